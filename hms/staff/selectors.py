"""Reads of practitioners and specialties. Practitioners are not PHI: no patient scope applies."""

from django.db.models import Q, QuerySet

from .models import Practitioner, PractitionerRole, Specialty


def doctors_list(
    *, search: str = "", specialty: str = "", include_inactive: bool = False
) -> QuerySet[Practitioner]:
    """Doctors, ordered by name.

    - `search`: up to 4 words, each the start of the family or given names or a word of the specialty
      (case-insensitive): "card" finds cardiologists, "smi" Dr Smith.
    - `specialty`: a SNOMED CT code (exact) or part of the specialty's display (case-insensitive).
    """
    qs = Practitioner.objects.filter(role=PractitionerRole.DOCTOR).select_related("specialty", "organization")
    if not include_inactive:
        qs = qs.filter(active=True)
    for word in search.split()[:4]:
        qs = qs.filter(
            Q(family_name__istartswith=word)
            | Q(given_names__istartswith=word)
            | Q(specialty__display__istartswith=word)
            | Q(specialty__display__icontains=f" {word}")
        )
    specialty = specialty.strip()
    if specialty:
        qs = qs.filter(Q(specialty__code=specialty) | Q(specialty__display__icontains=specialty))
    return qs


def doctor_get(practitioner_id: int, *, include_inactive: bool = False) -> Practitioner:
    """One doctor by pk; `Http404` when missing (or inactive, unless `include_inactive`)."""
    from hms.core.errors import NotFoundOrForbidden

    if not 0 < int(practitioner_id) < 2**63:
        raise NotFoundOrForbidden()
    found = doctors_list(include_inactive=include_inactive).filter(pk=practitioner_id).first()
    if found is None:
        raise NotFoundOrForbidden()
    return found


def specialties_list() -> QuerySet[Specialty]:
    """Every specialty (SNOMED CT practice settings), ordered by display."""
    return Specialty.objects.all()
