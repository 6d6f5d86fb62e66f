"""Practitioners, their specialties, and organizations (the hospital and providers named by imports)."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from hms.core.models import SourceIdentifiedModel, TimeStampedModel, source_unique_constraint


class Organization(TimeStampedModel, SourceIdentifiedModel):
    """A healthcare organization. Maps to FHIR R4 `Organization`."""

    name = models.CharField(max_length=200)
    type_code = models.CharField(max_length=32, blank=True, help_text="organization-type code, e.g. prov")
    phone = models.CharField(max_length=32, blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [source_unique_constraint("organization")]

    def __str__(self) -> str:
        return self.name


class Specialty(models.Model):
    """A clinical specialty coded in SNOMED CT, from the FHIR R4 value set "Practice Setting Code"
    (http://hl7.org/fhir/ValueSet/c80-practice-codes). Seeded by migration `staff.0002_specialties`."""

    code_system = models.CharField(max_length=200, default="http://snomed.info/sct")
    code = models.CharField(max_length=32, unique=True)
    display = models.CharField(max_length=200)

    class Meta:
        ordering = ["display"]
        verbose_name_plural = "specialties"

    def __str__(self) -> str:
        return self.display


class PractitionerRole(models.TextChoices):
    DOCTOR = "doctor", "Doctor"
    NURSE = "nurse", "Nurse"
    PHARMACIST = "pharmacist", "Pharmacist"
    LAB_TECHNICIAN = "lab_technician", "Lab technician"
    OTHER = "other", "Other"


def _validate_weekdays(value):
    if not isinstance(value, list) or not all(isinstance(d, int) and 1 <= d <= 7 for d in value):
        raise ValidationError("available_days must be a list of ISO weekdays 1 (Monday) to 7 (Sunday).")


class Practitioner(TimeStampedModel, SourceIdentifiedModel):
    """A person who gives care. Maps to FHIR R4 `Practitioner` (+ `PractitionerRole` for role/specialty).

    - `user`: the staff login, when the practitioner works here (imported practitioners may have none).
    - `consultation_fee`: Decimal, in `currency` (ISO 4217), ≥ 0.
    - `available_days`: list[int], ISO weekdays 1 = Monday … 7 = Sunday.
    - `npi`: US National Provider Identifier when known (imports key on it).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="practitioner",
    )
    role = models.CharField(max_length=16, choices=PractitionerRole.choices, default=PractitionerRole.DOCTOR)
    prefix = models.CharField(max_length=20, blank=True)
    family_name = models.CharField(max_length=100)
    given_names = models.CharField(max_length=150)
    gender = models.CharField(max_length=8, blank=True)
    specialty = models.ForeignKey(Specialty, null=True, blank=True, on_delete=models.PROTECT)
    licence_number = models.CharField(max_length=64, blank=True)
    npi = models.CharField("NPI", max_length=20, blank=True, db_index=True)
    bio = models.TextField(blank=True)
    consultation_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0.00"), validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(max_length=3, default="USD")
    photo = models.ImageField(upload_to="practitioners/", blank=True)
    available_days = models.JSONField(default=list, blank=True, validators=[_validate_weekdays])
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["family_name", "given_names"]
        constraints = [source_unique_constraint("practitioner")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.given_names} {self.family_name}".strip()
        return f"{self.prefix} {name}".strip() if self.prefix else name
