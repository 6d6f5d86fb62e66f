"""Base models shared by every domain app: timestamps, soft delete, source identifiers, codes."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    """`created_at`/`updated_at`: timezone-aware UTC datetimes set by the database layer."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)

    def delete(self):  # pragma: no cover - guard
        raise TypeError("Clinical records are soft-deleted through their service, never bulk-deleted.")


class SoftDeleteModel(models.Model):
    """A record that is never hard-deleted: `deleted_at`/`deleted_by`/`deletion_reason` mark it gone.

    `Model.delete()` raises `TypeError`; call the domain's `<entity>_delete` service, which records the
    reason and writes an AuditEvent.
    """

    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deletion_reason = models.CharField(max_length=500, blank=True)

    objects = SoftDeleteQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is soft-deleted through its service, never hard-deleted.")


class SourceIdentifiedModel(models.Model):
    """Where an imported record came from: `source_system` (URI) + `source_id`, unique together.

    Importers key on this pair so that a re-import updates the record instead of duplicating it.
    Records created inside Asclepius leave both empty.
    """

    source_system = models.CharField(max_length=200, blank=True, default="")
    source_id = models.CharField(max_length=128, blank=True, default="", db_index=True)

    class Meta:
        abstract = True


def source_unique_constraint(model_name: str) -> models.UniqueConstraint:
    """The conditional unique constraint that every `SourceIdentifiedModel` subclass declares."""
    return models.UniqueConstraint(
        fields=["source_system", "source_id"],
        condition=~models.Q(source_id=""),
        name=f"{model_name}_unique_source",
    )


class CodingFields(models.Model):
    """One FHIR `Coding` stored flat: `code_system` (URI), `code`, `code_display`.

    Systems used: SNOMED CT `http://snomed.info/sct`, LOINC `http://loinc.org`, ICD-10-CM
    `http://hl7.org/fhir/sid/icd-10-cm`, RxNorm `http://www.nlm.nih.gov/research/umls/rxnorm`,
    CVX `http://hl7.org/fhir/sid/cvx`.
    """

    code_system = models.CharField(max_length=200, blank=True, default="")
    code = models.CharField(max_length=64, blank=True, default="", db_index=True)
    code_display = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        abstract = True

    @property
    def coding(self) -> dict:
        return {"system": self.code_system, "code": self.code, "display": self.code_display}


class PatientRecordModel(TimeStampedModel, SoftDeleteModel, SourceIdentifiedModel):
    """Base of every clinical record: belongs to one patient, optionally recorded in one encounter.

    Reads go through `hms.patients.selectors` (scoped to the requesting user); soft delete only.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="%(class)ss")
    encounter = models.ForeignKey(
        "clinical.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="%(class)ss"
    )

    class Meta:
        abstract = True
