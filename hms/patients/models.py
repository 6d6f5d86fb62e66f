"""The patient registry."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper

from hms.core.models import SoftDeleteModel, SourceIdentifiedModel, TimeStampedModel, source_unique_constraint

from .mrn import FIRST_SERIAL

EARLIEST_BIRTH_DATE = datetime.date(1880, 1, 1)  # older than any person alive (the record is 122 years)


def validate_birth_date(value: datetime.date) -> None:
    """A date of birth lies between 1880-01-01 and today (hospital time zone); else ValidationError."""
    from django.utils import timezone

    if value > timezone.localdate():
        raise ValidationError("The date of birth cannot be in the future.")
    if value < EARLIEST_BIRTH_DATE:
        raise ValidationError(f"The date of birth cannot be before {EARLIEST_BIRTH_DATE:%Y-%m-%d}.")


def normalise_national_id(value: str) -> str:
    """National identifiers are stored as upper-case letters and digits only ("123-45-6789" and
    "123 45 6789" are one identifier), so the duplicate check compares like with like."""
    return "".join(ch for ch in (value or "") if ch.isalnum()).upper()


class AdministrativeGender(models.TextChoices):
    """FHIR R4 administrative-gender (http://hl7.org/fhir/administrative-gender)."""

    MALE = "male", "Male"
    FEMALE = "female", "Female"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class BloodGroup(models.TextChoices):
    A_POS = "A+", "A+"
    A_NEG = "A-", "A-"
    B_POS = "B+", "B+"
    B_NEG = "B-", "B-"
    AB_POS = "AB+", "AB+"
    AB_NEG = "AB-", "AB-"
    O_POS = "O+", "O+"
    O_NEG = "O-", "O-"
    UNKNOWN = "", "Unknown"


class MRNCounter(models.Model):
    """The single row (pk=1) holding the next MRN serial; taken with SELECT ... FOR UPDATE."""

    next_serial = models.BigIntegerField(default=FIRST_SERIAL)

    def __str__(self) -> str:
        return f"next MRN serial {self.next_serial}"


class Patient(TimeStampedModel, SoftDeleteModel, SourceIdentifiedModel):
    """A person receiving care. Maps to FHIR R4 `Patient` (https://hl7.org/fhir/R4/patient.html).

    - `mrn`: str, 9 digits with a Luhn check digit (`hms.patients.mrn`), unique, never reused.
    - `gender`: FHIR administrative-gender code.
    - `user`: the patient's own login, if they have one (a patient sees only this record).
    Soft delete only (`patient_delete`), with who, when and why.
    """

    mrn = models.CharField("medical record number", max_length=16, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient"
    )
    family_name = models.CharField(max_length=100)
    given_names = models.CharField(max_length=150)
    prefix = models.CharField(max_length=20, blank=True)
    date_of_birth = models.DateField(validators=[validate_birth_date])
    gender = models.CharField(max_length=8, choices=AdministrativeGender.choices)
    deceased_at = models.DateTimeField(null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True, db_index=True)
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True)
    blood_group = models.CharField(max_length=3, choices=BloodGroup.choices, blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_phone = models.CharField(max_length=32, blank=True)
    emergency_contact_relationship = models.CharField(max_length=50, blank=True)
    national_id = models.CharField(
        "national identifier",
        max_length=64,
        blank=True,
        db_index=True,
        help_text="Stored normalised: letters and digits only, upper case (e.g. a US SSN as 123456789).",
    )
    preferred_language = models.CharField(max_length=35, blank=True, help_text="BCP-47 tag, e.g. en, es")
    active = models.BooleanField(default=True)
    identity_unknown = models.BooleanField(
        default=False, help_text="registered with a temporary identity (e.g. an unconscious ED arrival)"
    )
    birth_date_estimated = models.BooleanField(default=False)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_records",
        help_text="set when this record was merged into another (FHIR Patient.link replaced-by)",
    )

    class Meta:
        ordering = ["family_name", "given_names", "id"]
        constraints = [source_unique_constraint("patient")]
        indexes = [
            models.Index(Upper("family_name"), Upper("given_names"), name="patient_name_upper"),
            models.Index(Upper("given_names"), name="patient_given_upper"),
            models.Index(fields=["date_of_birth"], name="patient_dob"),
            # Serves the default ordering of lists (LIMIT n without sorting the whole table).
            models.Index(fields=["family_name", "given_names", "id"], name="patient_sort"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.given_names} {self.family_name}".strip()

    def age_on(self, day) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    @property
    def age(self) -> int:
        from django.utils import timezone

        end = self.deceased_at.date() if self.deceased_at else timezone.localdate()
        return self.age_on(end)
