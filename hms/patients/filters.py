"""Query-string filters of `/api/patients/` (gender, active, date of birth, birth-year range).

`?search=` is not a filter here: the view hands it to `hms.patients.selectors.patient_search_in`, the rule
shared with the portal and the admin (its result may not be a QuerySet, which django-filter requires).
"""

import datetime as dt

import django_filters as filters

from .models import AdministrativeGender, Patient


class PatientFilter(filters.FilterSet):
    gender = filters.ChoiceFilter(choices=AdministrativeGender.choices)
    active = filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda v: v == "true",
        help_text="true or false.",
    )
    date_of_birth = filters.DateFilter()
    birth_year_from = filters.NumberFilter(
        method="filter_birth_year_from",
        min_value=1,
        max_value=9999,
        decimal_places=0,
        help_text="Born in this year or later.",
    )
    birth_year_to = filters.NumberFilter(
        method="filter_birth_year_to",
        min_value=1,
        max_value=9999,
        decimal_places=0,
        help_text="Born in this year or earlier.",
    )

    class Meta:
        model = Patient
        fields = ["gender", "active", "date_of_birth"]

    def filter_birth_year_from(self, queryset, name, value):
        return queryset.filter(date_of_birth__gte=dt.date(int(value), 1, 1))

    def filter_birth_year_to(self, queryset, name, value):
        return queryset.filter(date_of_birth__lte=dt.date(int(value), 12, 31))
