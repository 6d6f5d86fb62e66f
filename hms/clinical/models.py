"""The clinical record: encounters and what is recorded in them. Each model names its FHIR R4 resource.

Codes are stored flat as (system URI, code, display); see `hms.core.codes` for the systems.
"""

from django.conf import settings
from django.db import models

from hms.core.models import (
    CodingFields,
    PatientRecordModel,
    SoftDeleteModel,
    SourceIdentifiedModel,
    TimeStampedModel,
    source_unique_constraint,
)


class ObservationInterpretation(models.TextChoices):
    """FHIR R4 Observation.interpretation, from v3 ObservationInterpretation
    (http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation)."""

    NORMAL = "N", "Normal"
    LOW = "L", "Low"
    HIGH = "H", "High"
    CRITICAL_LOW = "LL", "Critical low"
    CRITICAL_HIGH = "HH", "Critical high"
    ABNORMAL = "A", "Abnormal"
    CRITICAL = "AA", "Critical abnormal"


class DiagnosisRole(models.TextChoices):
    """Encounter.diagnosis.rank as a role: the primary diagnosis of the visit, or a secondary one."""

    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


class EncounterClass(models.TextChoices):
    """FHIR R4 Encounter.class, from v3 ActCode (http://terminology.hl7.org/CodeSystem/v3-ActCode)."""

    AMBULATORY = "AMB", "Ambulatory (outpatient)"
    EMERGENCY = "EMER", "Emergency"
    INPATIENT = "IMP", "Inpatient"
    VIRTUAL = "VR", "Virtual"


class EncounterStatus(models.TextChoices):
    """FHIR R4 encounter-status."""

    PLANNED = "planned", "Planned"
    ARRIVED = "arrived", "Arrived"
    TRIAGED = "triaged", "Triaged"
    IN_PROGRESS = "in-progress", "In progress"
    ONLEAVE = "onleave", "On leave"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
    UNKNOWN = "unknown", "Unknown"


class Encounter(TimeStampedModel, SoftDeleteModel, SourceIdentifiedModel, CodingFields):
    """A contact between a patient and the hospital. Maps to FHIR R4 `Encounter`.

    - `encounter_class`: `EncounterClass` code; `code*` fields hold Encounter.type (SNOMED CT).
    - `period_start`/`period_end`: aware datetimes (UTC); end ≥ start or empty while in progress.
    - `practitioner`: the primary performer; `participants`: the rest of the care team.
    - `reason_*`: Encounter.reasonCode (SNOMED CT or ICD-10-CM).
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="encounters")
    status = models.CharField(
        max_length=20, choices=EncounterStatus.choices, default=EncounterStatus.FINISHED
    )
    encounter_class = models.CharField(max_length=8, choices=EncounterClass.choices)
    period_start = models.DateTimeField(db_index=True)
    period_end = models.DateTimeField(null=True, blank=True)
    practitioner = models.ForeignKey(
        "staff.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="encounters"
    )
    participants = models.ManyToManyField(
        "staff.Practitioner", blank=True, related_name="participated_encounters"
    )
    organization = models.ForeignKey("staff.Organization", null=True, blank=True, on_delete=models.PROTECT)
    reason_system = models.CharField(max_length=200, blank=True)
    reason_code = models.CharField(max_length=64, blank=True)
    reason_display = models.CharField(max_length=500, blank=True)
    discharge_disposition = models.CharField(max_length=200, blank=True)
    appointment = models.OneToOneField(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="encounter"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [source_unique_constraint("encounter")]
        indexes = [models.Index(fields=["patient", "-period_start"], name="encounter_patient_start")]

    def __str__(self) -> str:
        return f"{self.get_encounter_class_display()} {self.period_start:%Y-%m-%d} {self.code_display}"


class Condition(PatientRecordModel, CodingFields):
    """A problem or diagnosis. Maps to FHIR R4 `Condition`.

    `clinical_status`: active | recurrence | relapse | inactive | remission | resolved;
    `onset_at`/`abatement_at`: aware datetimes; the problem list is the active conditions.
    """

    clinical_status = models.CharField(max_length=16, default="active", db_index=True)
    verification_status = models.CharField(max_length=24, default="confirmed")
    category = models.CharField(max_length=32, default="encounter-diagnosis")
    onset_at = models.DateTimeField(null=True, blank=True)
    abatement_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    diagnosis_role = models.CharField(max_length=10, blank=True, help_text="primary | secondary | ''")
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-onset_at", "-id"]
        constraints = [
            source_unique_constraint("condition"),
            models.UniqueConstraint(
                fields=["encounter"],
                condition=models.Q(diagnosis_role="primary", deleted_at__isnull=True),
                name="condition_one_primary_per_encounter",
            ),
        ]

    def __str__(self) -> str:
        return self.code_display or self.code


class AllergyIntolerance(PatientRecordModel, CodingFields):
    """An allergy or intolerance. Maps to FHIR R4 `AllergyIntolerance`.

    `category`: food | medication | environment | biologic; `criticality`: low | high | unable-to-assess;
    `reactions`: list of {"manifestation": str, "severity": "mild|moderate|severe"}.
    """

    clinical_status = models.CharField(max_length=16, default="active")
    verification_status = models.CharField(max_length=24, default="confirmed")
    allergy_type = models.CharField(max_length=16, blank=True, help_text="allergy | intolerance")
    category = models.CharField(max_length=16, blank=True)
    criticality = models.CharField(max_length=20, blank=True)
    onset_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(null=True, blank=True)
    reactions = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code_display"]
        constraints = [source_unique_constraint("allergyintolerance")]

    def __str__(self) -> str:
        return self.code_display or self.code


class Observation(PatientRecordModel, CodingFields):
    """A measurement or finding: vitals, lab results, surveys. Maps to FHIR R4 `Observation`.

    - `code*`: LOINC; `category`: observation-category code (vital-signs, laboratory, ...; the Synthea
      quirk `vital-sign` is normalised to `vital-signs` on import).
    - `value_quantity`: Decimal in `value_unit` (UCUM, e.g. `kg`, `mm[Hg]`, `kg/m2`).
    - `value_code*`: a coded value (valueCodeableConcept); `value_string`: free text.
    - `components`: list of {"code", "system", "display", "value", "unit"}, e.g. systolic and diastolic
      blood pressure (LOINC 8480-6 and 8462-4) under panel 85354-9.
    """

    status = models.CharField(max_length=20, default="final")
    category = models.CharField(max_length=32, blank=True, db_index=True)
    effective_at = models.DateTimeField(null=True, blank=True, db_index=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    value_quantity = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    value_unit = models.CharField(max_length=40, blank=True)
    value_code_system = models.CharField(max_length=200, blank=True)
    value_code = models.CharField(max_length=64, blank=True)
    value_code_display = models.CharField(max_length=500, blank=True)
    value_string = models.TextField(blank=True)
    components = models.JSONField(default=list, blank=True)
    interpretation = models.CharField(
        max_length=2,
        blank=True,
        choices=ObservationInterpretation.choices,
        help_text="v3 ObservationInterpretation",
    )
    reference_low = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    reference_text = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-effective_at", "-id"]
        constraints = [source_unique_constraint("observation")]
        indexes = [models.Index(fields=["patient", "code", "-effective_at"], name="observation_patient_code")]

    def __str__(self) -> str:
        return f"{self.code_display} {self.display_value}"

    @property
    def display_value(self) -> str:
        if self.value_quantity is not None:
            return f"{self.value_quantity.normalize():f} {self.value_unit}".strip()
        if self.components:
            parts = [f"{c.get('value')}" for c in self.components if c.get("value") is not None]
            unit = next((c.get("unit") for c in self.components if c.get("unit")), "")
            return f"{'/'.join(parts)} {unit}".strip()
        return self.value_code_display or self.value_string


class Immunization(PatientRecordModel, CodingFields):
    """A vaccine given. Maps to FHIR R4 `Immunization`; `code*` is the vaccine in CVX."""

    status = models.CharField(max_length=20, default="completed")
    occurrence_at = models.DateTimeField(null=True, blank=True)
    primary_source = models.BooleanField(default=True)

    class Meta:
        ordering = ["-occurrence_at", "-id"]
        constraints = [source_unique_constraint("immunization")]

    def __str__(self) -> str:
        return self.code_display


class Procedure(PatientRecordModel, CodingFields):
    """A procedure performed. Maps to FHIR R4 `Procedure`; `code*` in SNOMED CT."""

    status = models.CharField(max_length=20, default="completed")
    performed_start = models.DateTimeField(null=True, blank=True)
    performed_end = models.DateTimeField(null=True, blank=True)
    reason_system = models.CharField(max_length=200, blank=True)
    reason_code = models.CharField(max_length=64, blank=True)
    reason_display = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-performed_start", "-id"]
        constraints = [source_unique_constraint("procedure")]

    def __str__(self) -> str:
        return self.code_display


class CarePlan(PatientRecordModel, CodingFields):
    """A plan of care. Maps to FHIR R4 `CarePlan`; `code*` holds the main category (SNOMED CT).

    `activities`: list of {"code", "system", "display", "status"}; `addresses`: list of condition
    displays the plan treats.
    """

    status = models.CharField(max_length=20, default="active")
    intent = models.CharField(max_length=20, default="plan")
    title = models.CharField(max_length=200, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    activities = models.JSONField(default=list, blank=True)
    addresses = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [source_unique_constraint("careplan")]

    def __str__(self) -> str:
        return self.title or self.code_display


# ------------------------------------------------------------------ clinical workflows (issue 4)


class NoteKind(models.TextChoices):
    SOAP = "soap", "Consultation note (SOAP)"
    NURSING = "nursing", "Nursing note"


class NoteStatus(models.TextChoices):
    """FHIR R4 Composition.status: preliminary (draft) → final (signed) → amended (has addenda)."""

    DRAFT = "preliminary", "Draft"
    FINAL = "final", "Signed"
    AMENDED = "amended", "Signed, with addenda"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class NoteTemplate(TimeStampedModel):
    """Starting text of a SOAP note for one specialty (empty specialty = any). Not PHI."""

    name = models.CharField(max_length=120)
    specialty = models.ForeignKey(
        "staff.Specialty", null=True, blank=True, on_delete=models.PROTECT, related_name="note_templates"
    )
    subjective = models.TextField(blank=True)
    objective = models.TextField(blank=True)
    assessment = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name", "specialty"], name="notetemplate_unique_name")]

    def __str__(self) -> str:
        return self.name


class ClinicalNote(PatientRecordModel):
    """A consultation note (SOAP) or a nursing note written in an encounter.

    Maps to FHIR R4 `Composition` (sections S, O, A, P), exposed as a `DocumentReference` (LOINC 11506-3
    progress note / 34746-8 nurse note). `status`: `NoteStatus`; while `preliminary` the author may edit;
    once signed (`final`) the text never changes (the service raises `Conflict`, 409) and only
    `NoteAddendum` rows are added (`amended`). `body` is the free text of a nursing note.
    """

    kind = models.CharField(max_length=10, choices=NoteKind.choices, default=NoteKind.SOAP)
    status = models.CharField(max_length=20, choices=NoteStatus.choices, default=NoteStatus.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clinical_notes"
    )
    template = models.ForeignKey(NoteTemplate, null=True, blank=True, on_delete=models.SET_NULL)
    subjective = models.TextField(blank=True)
    objective = models.TextField(blank=True)
    assessment = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    body = models.TextField(blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d}"

    @property
    def is_signed(self) -> bool:
        return self.status in (NoteStatus.FINAL, NoteStatus.AMENDED)


class NoteAddendum(TimeStampedModel):
    """An amendment to a signed note: who, when (`created_at`), why (`reason`) and the added `text`.
    Append-only; the original note text stays as signed."""

    note = models.ForeignKey(ClinicalNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    text = models.TextField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Addendum {self.created_at:%Y-%m-%d %H:%M}"


class DailyHealthReport(PatientRecordModel):
    """A patient's own daily report from the portal. Maps to FHIR R4 `QuestionnaireResponse`.

    - `report_date`: the patient's local date; one report per patient per day (a second submission the
      same day updates it).
    - `mood`: great | good | okay | low | bad; `symptoms`: free text; `rating`: int 1 to 10 (10 = best).
    - Home vitals measured by the patient are stored as `Observation` rows linked by `observations`.
    """

    report_date = models.DateField()
    mood = models.CharField(max_length=10, blank=True)
    symptoms = models.TextField(blank=True)
    rating = models.PositiveSmallIntegerField()
    observations = models.ManyToManyField(Observation, blank=True, related_name="daily_reports")

    class Meta:
        ordering = ["-report_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "report_date"],
                condition=models.Q(deleted_at__isnull=True),
                name="dailyhealthreport_one_per_day",
            ),
            models.CheckConstraint(
                condition=models.Q(rating__gte=1) & models.Q(rating__lte=10),
                name="dailyhealthreport_rating_1_10",
            ),
        ]

    def __str__(self) -> str:
        return f"Daily report {self.report_date} ({self.rating}/10)"


class Goal(PatientRecordModel):
    """A care-plan goal. Maps to FHIR R4 `Goal`.

    - `description`: e.g. "HbA1c below 7 %".
    - Target (optional): `target_code*` (LOINC of the measure), `target_comparator` (`<`, `<=`, `>`, `>=`,
      `=`), `target_value` (Decimal) in `target_unit` (UCUM), by `due_date`.
    - `lifecycle_status`: proposed | active | completed | cancelled; whether it is met is computed from the
      latest Observation with `target_code` (see the care-plan services), not stored.
    """

    care_plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="goals")
    description = models.CharField(max_length=300)
    lifecycle_status = models.CharField(max_length=20, default="active")
    target_code_system = models.CharField(max_length=200, blank=True)
    target_code = models.CharField(max_length=64, blank=True)
    target_code_display = models.CharField(max_length=300, blank=True)
    target_comparator = models.CharField(max_length=2, blank=True)
    target_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    target_unit = models.CharField(max_length=40, blank=True)
    due_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return self.description


class CarePlanActivity(TimeStampedModel):
    """One planned activity of a care plan. Maps to FHIR R4 `CarePlan.activity.detail`.

    - `kind`: medication | appointment | nurse-check | education | other.
    - Assigned to a role (`assigned_role`, a `Role` value) or a person (`assigned_to`), or both.
    - `status`: not-started | scheduled | in-progress | completed | cancelled; `completed_at`/`completed_by`
      when ticked off; `due_at` optional aware datetime.
    """

    care_plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="planned_activities")
    kind = models.CharField(max_length=20, default="other")
    description = models.CharField(max_length=300)
    assigned_role = models.CharField(max_length=20, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=20, default="not-started")
    due_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    progress_note = models.TextField(blank=True)

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return self.description
