"""Query-string filters of the per-type record lists (`/api/patients/{id}/observations/?code=...`).

`date_from`/`date_to` are calendar days in the hospital's time zone (`HOSPITAL_TIME_ZONE`), both
inclusive, applied to each type's main date (`DATE_FIELD`); they compare against the stored UTC
datetimes with a plain range so the indexes on those columns are used.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import django_filters as filters
from django.conf import settings

from hms.lab.models import DiagnosticReport
from hms.pharmacy.models import MedicationRequest

from .models import (
    AllergyIntolerance,
    CarePlan,
    Condition,
    Encounter,
    EncounterClass,
    EncounterStatus,
    Immunization,
    Observation,
    Procedure,
)


def _day_start(day: dt.date) -> dt.datetime | None:
    """Midnight of `day` in the hospital's zone; None at the ends of the calendar (no bound)."""
    if day.year <= 1 or day.year >= 9999:
        return None
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(settings.HOSPITAL_TIME_ZONE))


class RecordFilter(filters.FilterSet):
    """Filters every record list has: `code` (exact), `date_from`, `date_to`, `encounter` (id)."""

    DATE_FIELD = "created_at"

    code = filters.CharFilter(
        field_name="code", max_length=64, help_text="Code (LOINC, SNOMED CT, ...), exact."
    )
    date_from = filters.DateFilter(method="filter_date_from", help_text="On or after this day (YYYY-MM-DD).")
    date_to = filters.DateFilter(method="filter_date_to", help_text="On or before this day (YYYY-MM-DD).")
    encounter = filters.NumberFilter(
        field_name="encounter_id",
        min_value=1,
        max_value=2**63 - 1,
        decimal_places=0,
        help_text="Only records of this encounter.",
    )

    def filter_date_from(self, queryset, name, value):
        start = _day_start(value)
        return queryset if start is None else queryset.filter(**{f"{self.DATE_FIELD}__gte": start})

    def filter_date_to(self, queryset, name, value):
        end = _day_start(value + dt.timedelta(days=1)) if value < dt.date.max else None
        return queryset if end is None else queryset.filter(**{f"{self.DATE_FIELD}__lt": end})


class EncounterFilter(RecordFilter):
    DATE_FIELD = "period_start"

    status = filters.ChoiceFilter(choices=EncounterStatus.choices)
    encounter_class = filters.ChoiceFilter(choices=EncounterClass.choices, help_text="AMB, EMER, IMP, VR.")
    encounter = None

    class Meta:
        model = Encounter
        fields = ["code", "status", "encounter_class"]


class ObservationFilter(RecordFilter):
    DATE_FIELD = "effective_at"

    category = filters.CharFilter(max_length=32, help_text="vital-signs, laboratory, survey, ...")
    status = filters.CharFilter(max_length=20)

    class Meta:
        model = Observation
        fields = ["code", "category", "status"]


class ConditionFilter(RecordFilter):
    DATE_FIELD = "onset_at"

    clinical_status = filters.CharFilter(
        max_length=16, help_text="active, recurrence, inactive, resolved, ..."
    )
    category = filters.CharFilter(max_length=32)

    class Meta:
        model = Condition
        fields = ["code", "clinical_status", "category"]


class AllergyIntoleranceFilter(RecordFilter):
    DATE_FIELD = "recorded_at"

    clinical_status = filters.CharFilter(max_length=16)
    category = filters.CharFilter(max_length=16, help_text="food, medication, environment, biologic.")
    criticality = filters.CharFilter(max_length=20)

    class Meta:
        model = AllergyIntolerance
        fields = ["code", "clinical_status", "category", "criticality"]


class MedicationRequestFilter(RecordFilter):
    DATE_FIELD = "authored_on"

    status = filters.CharFilter(
        max_length=20, help_text="active, on-hold, cancelled, completed, stopped, ..."
    )

    class Meta:
        model = MedicationRequest
        fields = ["code", "status"]


class ImmunizationFilter(RecordFilter):
    DATE_FIELD = "occurrence_at"

    status = filters.CharFilter(max_length=20)

    class Meta:
        model = Immunization
        fields = ["code", "status"]


class ProcedureFilter(RecordFilter):
    DATE_FIELD = "performed_start"

    status = filters.CharFilter(max_length=20)

    class Meta:
        model = Procedure
        fields = ["code", "status"]


class DiagnosticReportFilter(RecordFilter):
    DATE_FIELD = "effective_at"

    category = filters.CharFilter(max_length=16, help_text="v2-0074 section, e.g. LAB.")
    status = filters.CharFilter(max_length=20)

    class Meta:
        model = DiagnosticReport
        fields = ["code", "category", "status"]


class CarePlanFilter(RecordFilter):
    DATE_FIELD = "period_start"

    status = filters.CharFilter(max_length=20)

    class Meta:
        model = CarePlan
        fields = ["code", "status"]
