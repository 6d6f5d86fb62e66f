"""Import FHIR R4 Bundles (Synthea exports and the like) into Asclepius.

Services:
- `bundle_import(*, data, source_name, source_system=SYNTHEA_SYSTEM, by=None) -> ImportResult`: one
  Bundle (a parsed JSON dict), in one transaction: every entry is validated with `fhir.resources.R4B`
  first; any invalid entry, unresolvable patient reference or database error fails the whole bundle
  and nothing of it is written.
- `fhir_import(*, paths, source_system=SYNTHEA_SYSTEM, by=None, progress=False) -> ImportSummary`:
  files and folders of bundles (support bundles `hospitalInformation*`/`practitionerInformation*`
  first), one transaction per bundle, plus one AuditEvent for the run.

Idempotent: every row is keyed on `(source_system, source_id)` where `source_id` is the resource's
`id` (or the uuid of its `urn:uuid:` fullUrl); a re-import updates changed rows in place and leaves
the rest untouched. Practitioners are also matched on their NPI. New patients get MRNs from one
`mrn_allocate` block per bundle; an existing patient keeps theirs.

Speed: per bundle, one query per resource type fetches the rows that already exist, then
`bulk_create`/`bulk_update` write the rest; foreign keys are never validated row by row.
"""

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError as PydanticValidationError

from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.models import (
    AllergyIntolerance,
    CarePlan,
    Condition,
    Encounter,
    Immunization,
    Observation,
    Procedure,
)
from hms.core import codes
from hms.lab.models import DiagnosticReport
from hms.patients.models import Patient
from hms.patients.mrn import mrn_allocate
from hms.pharmacy.models import MedicationRequest
from hms.staff.models import Organization, Practitioner

from . import mappers
from .models import RawResource

SYNTHEA_SYSTEM = "https://github.com/synthetichealth/synthea"
SUPPORT_BUNDLE_PREFIXES = ("hospitalInformation", "practitionerInformation")

# Resource type -> (model, mapper), in dependency order: a type may reference only earlier ones.
MAPPED_TYPES: dict[str, tuple[type[models.Model], Any]] = {
    "Organization": (Organization, mappers.organization),
    "Practitioner": (Practitioner, mappers.practitioner),
    "Patient": (Patient, mappers.patient),
    "Encounter": (Encounter, mappers.encounter),
    "Condition": (Condition, mappers.condition),
    "AllergyIntolerance": (AllergyIntolerance, mappers.allergy_intolerance),
    "Observation": (Observation, mappers.observation),
    "DiagnosticReport": (DiagnosticReport, mappers.diagnostic_report),
    "MedicationRequest": (MedicationRequest, mappers.medication_request),
    "Immunization": (Immunization, mappers.immunization),
    "Procedure": (Procedure, mappers.procedure),
    "CarePlan": (CarePlan, mappers.care_plan),
}
# Kept verbatim in `RawResource` until their module models them (billing).
RAW_TYPES = ("Claim", "ExplanationOfBenefit")
COUNT_COLUMNS = ("created", "updated", "unchanged", "skipped")
IN_CHUNK = 900  # ids per `IN (...)` query: below SQLite's smallest host-parameter limit


class BundleError(Exception):
    """The bundle cannot be imported; the message says which entry and why."""


@dataclass
class ImportResult:
    """What one bundle did. `counts[resource_type]` is a Counter over `COUNT_COLUMNS`."""

    source_name: str
    ok: bool = True
    error: str = ""
    resources: int = 0
    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    patient_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class ImportSummary:
    """What a run did: every bundle's result, totals per resource type and the failures."""

    results: list[ImportResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[ImportResult]:
        return [r for r in self.results if not r.ok]

    @property
    def resources(self) -> int:
        """Entries read from the bundles that imported (resources of failed bundles excluded)."""
        return sum(r.resources for r in self.results if r.ok)

    @property
    def rate(self) -> float:
        """Resources per second over the whole run."""
        return self.resources / self.seconds if self.seconds else 0.0

    @property
    def patient_ids(self) -> list[int]:
        return sorted({pk for r in self.results for pk in r.patient_ids})

    def totals(self) -> dict[str, Counter]:
        out: dict[str, Counter] = defaultdict(Counter)
        for result in self.results:
            if result.ok:
                for rtype, counter in result.counts.items():
                    out[rtype].update(counter)
        return dict(sorted(out.items()))

    def table(self) -> str:
        """A plain-text table: resource type by created/updated/unchanged/skipped, then the failures."""
        totals = self.totals()
        width = max([len("resource type"), *(len(t) for t in totals)])
        head = f"{'resource type':<{width}}  " + "  ".join(f"{c:>9}" for c in COUNT_COLUMNS)
        lines = [head, "-" * len(head)]
        grand = Counter()
        for rtype, counter in totals.items():
            grand.update(counter)
            lines.append(f"{rtype:<{width}}  " + "  ".join(f"{counter[c]:>9}" for c in COUNT_COLUMNS))
        lines.append("-" * len(head))
        lines.append(f"{'total':<{width}}  " + "  ".join(f"{grand[c]:>9}" for c in COUNT_COLUMNS))
        ok = len(self.results) - len(self.failed)
        lines.append(
            f"{ok} bundle(s) imported, {len(self.failed)} failed; {self.resources} resources in "
            f"{self.seconds:.1f} s ({self.rate:,.0f} resources/s)"
        )
        for result in self.failed:
            lines.append(f"FAILED {result.source_name}: {result.error}")
        return "\n".join(lines)

    def audit_detail(self) -> dict:
        return {
            "bundles": len(self.results),
            "failed": [{"source": r.source_name, "error": r.error[:500]} for r in self.failed],
            "resources": self.resources,
            "counts": {t: dict(c) for t, c in self.totals().items()},
        }


@dataclass
class _Entry:
    index: int
    resource_type: str
    source_id: str
    resource: Any  # the validated fhir.resources object
    raw: dict


def _validation_message(exc: PydanticValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        loc = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{loc}: {error.get('msg')}" if loc else str(error.get("msg")))
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _source_id(resource: dict, full_url: str | None) -> str:
    if resource.get("id"):
        return str(resource["id"])
    if full_url and full_url.startswith("urn:uuid:"):
        return full_url.removeprefix("urn:uuid:")
    return full_url or ""


def _chunks(items: list, size: int = IN_CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fk_names(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.concrete_fields if f.is_relation]


class _BundleImport:
    """One bundle's import: parse, validate, resolve references, write. Used by `bundle_import`."""

    def __init__(self, *, data: dict, source_name: str, source_system: str):
        self.data = data
        self.source_name = source_name
        self.source_system = source_system
        self.result = ImportResult(source_name=source_name)
        self.entries: dict[str, list[_Entry]] = defaultdict(list)
        self.by_url: dict[str, _Entry] = {}
        self.pks: dict[str, dict[str, int]] = defaultdict(dict)
        self.npi_pks: dict[str, int] = {}
        self._db_cache: dict[tuple[str, str], int | None] = {}

    # -- parsing and validation ------------------------------------------------------------------
    def parse(self) -> None:
        data = self.data
        if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
            raise BundleError("not a FHIR Bundle (resourceType must be 'Bundle')")
        raw_entries = data.get("entry") or []
        if not isinstance(raw_entries, list):
            raise BundleError("Bundle.entry must be a list")
        try:  # the Bundle's own structure, without re-validating every resource
            Bundle.model_validate(
                {
                    **data,
                    "entry": [
                        {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
                        for e in raw_entries
                    ],
                }
            )
        except PydanticValidationError as exc:
            raise BundleError(f"invalid Bundle: {_validation_message(exc)}") from None
        errors = []
        for index, entry in enumerate(raw_entries):
            resource = entry.get("resource")
            if resource is None:
                self.result.counts["(entry without resource)"]["skipped"] += 1
                continue
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
            try:
                model_class = get_fhir_model_class(str(rtype))
                validated = model_class.model_validate(resource)
            except PydanticValidationError as exc:
                errors.append(f"entry {index} ({rtype}): {_validation_message(exc)}")
                continue
            except (ValueError, TypeError, KeyError) as exc:
                errors.append(f"entry {index} ({rtype}): {exc}")
                continue
            self.result.resources += 1
            full_url = entry.get("fullUrl")
            source_id = _source_id(resource, full_url)
            if not source_id:
                errors.append(f"entry {index} ({rtype}): neither id nor fullUrl, cannot be keyed")
                continue
            if len(source_id) > 128:
                errors.append(f"entry {index} ({rtype}): id longer than 128 characters")
                continue
            item = _Entry(index, rtype, source_id, validated, resource)
            self.entries[rtype].append(item)
            if full_url:
                self.by_url[full_url] = item
            self.by_url[f"{rtype}/{source_id}"] = item
        if errors:
            shown = "; ".join(errors[:5]) + (f"; (+{len(errors) - 5} more)" if len(errors) > 5 else "")
            raise BundleError(f"{len(errors)} invalid entr{'y' if len(errors) == 1 else 'ies'}: {shown}")

    # -- reference resolution (the mappers' Resolver) ---------------------------------------------
    def resource(self, reference):
        ref = getattr(reference, "reference", None)
        item = self.by_url.get(ref) if ref else None
        return item.resource if item is not None else None

    def pk(self, reference, resource_type: str) -> int | None:
        ref = getattr(reference, "reference", None)
        if not ref:
            return None
        item = self.by_url.get(ref)
        if item is not None:
            return (
                self.pks[resource_type].get(item.source_id) if item.resource_type == resource_type else None
            )
        if ref.startswith(f"{resource_type}?identifier="):
            return self._conditional(ref, resource_type)
        path = ref.split("/_history/")[0].rstrip("/")
        parts = path.split("/")
        if len(parts) >= 2 and parts[-2] == resource_type:
            if parts[-1] in self.pks[resource_type]:
                return self.pks[resource_type][parts[-1]]
            return self._from_db(resource_type, parts[-1])
        return None

    def _conditional(self, ref: str, resource_type: str) -> int | None:
        """`Practitioner?identifier=<npi system>|<npi>` or `Organization?identifier=<system>|<id>`."""
        system, _, value = ref.partition("=")[2].partition("|")
        if resource_type == "Practitioner" and system == codes.NPI:
            if value in self.npi_pks:
                return self.npi_pks[value]
            key = ("npi", value)
            if key not in self._db_cache:
                self._db_cache[key] = (
                    Practitioner.objects.filter(npi=value).order_by("pk").values_list("pk", flat=True).first()
                )
            return self._db_cache[key]
        if value in self.pks[resource_type]:
            return self.pks[resource_type][value]
        return self._from_db(resource_type, value)

    def _from_db(self, resource_type: str, source_id: str) -> int | None:
        """A row imported earlier (by another bundle) from the same source system."""
        key = (resource_type, source_id)
        if key not in self._db_cache:
            model = MAPPED_TYPES[resource_type][0] if resource_type in MAPPED_TYPES else None
            self._db_cache[key] = (
                model.objects.filter(source_system=self.source_system, source_id=source_id)
                .values_list("pk", flat=True)
                .first()
                if model is not None
                else None
            )
        return self._db_cache[key]

    # -- writing -----------------------------------------------------------------------------------
    def write(self) -> None:
        for rtype, (model, mapper) in MAPPED_TYPES.items():
            items = self.entries.pop(rtype, [])
            if items:
                self._write_type(rtype, model, mapper, items)
        for rtype in RAW_TYPES:
            items = self.entries.pop(rtype, [])
            if items:
                self._write_raw(rtype, items)
        for rtype, items in self.entries.items():  # Goal, ImagingStudy, Medication, ...: not modelled
            self.result.counts[rtype]["skipped"] += len(items)
        self.result.patient_ids = sorted(set(self.pks["Patient"].values()))

    def _existing(self, model, source_ids: list[str], **extra) -> dict[str, models.Model]:
        found = {}
        for chunk in _chunks(source_ids):
            for obj in model.objects.filter(source_system=self.source_system, source_id__in=chunk, **extra):
                found[obj.source_id] = obj
        return found

    def _map_all(self, rtype, mapper, items) -> dict[str, tuple[int, mappers.Mapped]]:
        rows: dict[str, tuple[int, mappers.Mapped]] = {}
        for item in items:
            if item.source_id in rows:  # the same resource twice in one bundle
                self.result.counts[rtype]["skipped"] += 1
                continue
            try:
                rows[item.source_id] = (item.index, mapper(item.resource, self))
            except mappers.MappingError as exc:
                raise BundleError(f"entry {item.index} ({rtype}/{item.source_id}): {exc}") from None
        return rows

    def _write_type(self, rtype, model, mapper, items) -> None:
        rows = self._map_all(rtype, mapper, items)
        existing = self._existing(model, list(rows))
        if rtype == "Practitioner":
            self._match_npi(rows, existing)
        exclude = _fk_names(model) + (["mrn"] if model is Patient else [])  # MRNs are allocated below
        counts = self.result.counts[rtype]
        now = timezone.now()
        to_create, to_update, changed_fields, pairs = [], [], set(), []
        for source_id, (index, mapped) in rows.items():
            obj = existing.get(source_id)
            if obj is None:
                obj = model(source_system=self.source_system, source_id=source_id, **mapped.fields)
                self._clean(obj, exclude, rtype, index, source_id)
                to_create.append(obj)
                counts["created"] += 1
            else:
                changed = [name for name, value in mapped.fields.items() if getattr(obj, name) != value]
                if changed:
                    for name in changed:
                        setattr(obj, name, mapped.fields[name])
                    self._clean(obj, exclude, rtype, index, source_id)
                    obj.updated_at = now
                    changed_fields.update(changed)
                    to_update.append(obj)
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            pairs.append((source_id, obj, mapped))
        if rtype == "Patient" and to_create:
            for obj, mrn in zip(to_create, mrn_allocate(len(to_create)), strict=True):
                obj.mrn = mrn
        if to_create:
            model.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            model.objects.bulk_update(to_update, [*sorted(changed_fields), "updated_at"], batch_size=500)
        for source_id, obj, _ in pairs:
            self.pks[rtype][source_id] = obj.pk
            if rtype == "Practitioner" and obj.npi:
                self.npi_pks[obj.npi] = obj.pk
        for relation in {name for _, _, mapped in pairs for name in mapped.m2m}:
            self._link(model, relation, [(obj.pk, mapped.m2m.get(relation, [])) for _, obj, mapped in pairs])

    def _match_npi(self, rows, existing) -> None:
        """Practitioners not known by id but by NPI (e.g. another export of the same person)."""
        wanted = {
            m.fields["npi"]: sid for sid, (_, m) in rows.items() if sid not in existing and m.fields["npi"]
        }
        for chunk in _chunks(list(wanted)):
            for obj in Practitioner.objects.filter(npi__in=chunk).order_by("-pk"):
                existing[wanted[obj.npi]] = obj  # lowest pk wins

    def _clean(self, obj, exclude, rtype, index, source_id) -> None:
        try:
            obj.clean_fields(exclude=exclude)
        except ValidationError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise BundleError(f"entry {index} ({rtype}/{source_id}): {detail}") from None

    def _link(self, model, relation: str, links: list[tuple[int, list[int]]]) -> None:
        """Add the missing many-to-many rows (links made inside Asclepius are left alone)."""
        m2m = model._meta.get_field(relation)
        through = m2m.remote_field.through
        src = m2m.m2m_field_name() + "_id"
        dst = m2m.m2m_reverse_field_name() + "_id"
        owners = [pk for pk, targets in links if targets]
        if not owners:
            return
        have = set()
        for chunk in _chunks(owners):
            have.update(through.objects.filter(**{f"{src}__in": chunk}).values_list(src, dst))
        new = [through(**{src: pk, dst: t}) for pk, targets in links for t in targets if (pk, t) not in have]
        if new:
            through.objects.bulk_create(new, batch_size=500)

    def _write_raw(self, rtype: str, items: list[_Entry]) -> None:
        counts = self.result.counts[rtype]
        existing = self._existing(RawResource, [i.source_id for i in items], resource_type=rtype)
        to_create, to_update, seen = [], [], set()
        now = timezone.now()
        for item in items:
            if item.source_id in seen:
                counts["skipped"] += 1
                continue
            seen.add(item.source_id)
            patient_id = self.pk(mappers.raw_patient_reference(item.resource), "Patient")
            obj = existing.get(item.source_id)
            if obj is None:
                to_create.append(
                    RawResource(
                        resource_type=rtype,
                        source_system=self.source_system,
                        source_id=item.source_id,
                        patient_id=patient_id,
                        resource=item.raw,
                    )
                )
                counts["created"] += 1
            elif obj.resource != item.raw or obj.patient_id != patient_id:
                obj.resource, obj.patient_id, obj.updated_at = item.raw, patient_id, now
                to_update.append(obj)
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        if to_create:
            RawResource.objects.bulk_create(to_create, batch_size=500)
        if to_update:
            RawResource.objects.bulk_update(
                to_update, ["resource", "patient_id", "updated_at"], batch_size=500
            )


def bundle_import(
    *, data: dict, source_name: str, source_system: str = SYNTHEA_SYSTEM, by=None
) -> ImportResult:
    """Import one FHIR R4 Bundle (a parsed JSON dict) in one transaction.

    Returns an `ImportResult`: `ok` False with `error` (which entries and why) when the bundle was
    skipped, in which case nothing of it was written. Writes one AuditEvent (channel "system", the
    bundle's patients in `patient_ids`) inside the same transaction. `by`: the acting User or None.
    """
    started = time.perf_counter()
    job = _BundleImport(data=data, source_name=source_name, source_system=source_system)
    try:
        job.parse()
        with transaction.atomic():
            job.write()
            counts = {t: dict(c) for t, c in job.result.counts.items()}
            created = any(c.get("created") for c in counts.values())
            patient_ids = job.result.patient_ids
            audit_record(
                actor=by,
                action=AuditAction.CREATE if created else AuditAction.UPDATE,
                channel="system",
                patient=Patient.objects.get(pk=patient_ids[0]) if len(patient_ids) == 1 else None,
                patients=patient_ids,
                object_type="fhir.Bundle",
                object_id=source_name[-64:],
                detail={"source": source_name, "source_system": source_system, "counts": counts},
            )
    except BundleError as exc:
        job.result.ok, job.result.error = False, str(exc)
    except DatabaseError as exc:
        job.result.ok, job.result.error = False, f"database error: {exc}"
    if not job.result.ok:
        job.result.counts = defaultdict(Counter)
        job.result.patient_ids = []
    job.result.seconds = time.perf_counter() - started
    return job.result


def bundle_paths(paths: Iterable[str | Path]) -> list[Path]:
    """The bundle files named by `paths` (files, or folders whose `*.json` files are taken), with
    support bundles (`hospitalInformation*`, `practitionerInformation*`) first. Raises
    FileNotFoundError for a path that does not exist."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.json") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    unique = list(dict.fromkeys(files))
    return sorted(unique, key=lambda p: (not p.name.startswith(SUPPORT_BUNDLE_PREFIXES), str(p)))


def fhir_import(
    *, paths: Iterable[str | Path], source_system: str = SYNTHEA_SYSTEM, by=None, progress: bool = False
) -> ImportSummary:
    """Import every bundle file under `paths` (see `bundle_paths`); one transaction per bundle.

    A file that is not JSON or not a valid Bundle is reported in the summary and skipped; the others
    import. `progress` shows a tqdm bar on stderr. Ends with one AuditEvent for the run (action
    "create", channel "system", `detail` = counts per type and failures, `patient_ids` = patients
    touched). Raises FileNotFoundError for a missing path (before importing anything).
    """
    from tqdm import tqdm

    files = bundle_paths(paths)
    summary = ImportSummary()
    started = time.perf_counter()
    bar = tqdm(files, unit="bundle", disable=not progress, dynamic_ncols=True)
    for path in bar:
        bar.set_postfix_str(path.name[:40])
        try:
            with path.open("rb") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            summary.results.append(ImportResult(source_name=path.name, ok=False, error=f"unreadable: {exc}"))
            continue
        summary.results.append(
            bundle_import(data=data, source_name=path.name, source_system=source_system, by=by)
        )
    summary.seconds = time.perf_counter() - started
    with transaction.atomic():
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            channel="system",
            object_type="fhir.ImportRun",
            patients=summary.patient_ids,
            detail=summary.audit_detail(),
        )
    return summary
