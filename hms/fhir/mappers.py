"""FHIR R4 resource -> Asclepius model fields, one mapper per resource type.

Each mapper takes a resource already validated by `fhir.resources.R4B` and a `Resolver` (the bundle's
reference resolver) and returns a `Mapped`: the model's field values (foreign keys as `<name>_id`
primary keys) plus many-to-many links. Mappers do not touch the database; the importer
(`hms.fhir.importer`) decides create/update and writes in bulk. A resource that cannot be stored
(no resolvable patient, no birth date, ...) raises `MappingError` with the reason.

Sources: HL7 FHIR R4 (https://hl7.org/fhir/R4/) resource definitions; Synthea's R4 export conventions
(Encounter.participant[0] is the performer, vitals under LOINC, medications in RxNorm).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from hms.clinical.models import EncounterClass, EncounterStatus
from hms.core import codes
from hms.patients.models import AdministrativeGender, normalise_national_id
from hms.staff.models import PractitionerRole

# Synthea (and other exporters) occasionally use non-standard category codes; map them to the
# observation-category code system (http://terminology.hl7.org/CodeSystem/observation-category).
OBSERVATION_CATEGORY_ALIASES = {
    "vital-sign": "vital-signs",
    "vitals": "vital-signs",
    "vital signs": "vital-signs",
    "lab": "laboratory",
    "social history": "social-history",
}

# Encounter.class (v3 ActCode) codes outside our four, mapped to the nearest one.
ENCOUNTER_CLASS_ALIASES = {
    "ACUTE": EncounterClass.INPATIENT,
    "NONAC": EncounterClass.INPATIENT,
    "OBSENC": EncounterClass.INPATIENT,
    "PRENC": EncounterClass.AMBULATORY,
    "SS": EncounterClass.AMBULATORY,
    "HH": EncounterClass.AMBULATORY,
    "FLD": EncounterClass.AMBULATORY,
    # Synthea's own class names in some versions
    "AMBULATORY": EncounterClass.AMBULATORY,
    "OUTPATIENT": EncounterClass.AMBULATORY,
    "WELLNESS": EncounterClass.AMBULATORY,
    "URGENTCARE": EncounterClass.AMBULATORY,
    "EMERGENCY": EncounterClass.EMERGENCY,
    "INPATIENT": EncounterClass.INPATIENT,
    "VIRTUAL": EncounterClass.VIRTUAL,
}

# Timing.repeat.periodUnit (UCUM) -> days, to turn "frequency per period" into "per day".
PERIOD_UNIT_DAYS = {
    "s": Decimal(1) / Decimal(86400),
    "min": Decimal(1) / Decimal(1440),
    "h": Decimal(1) / Decimal(24),
    "d": Decimal(1),
    "wk": Decimal(7),
    "mo": Decimal(30),
    "a": Decimal(365),
}

SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"


class MappingError(Exception):
    """The resource is valid FHIR but cannot be stored (e.g. its patient reference does not resolve)."""


class Resolver(Protocol):
    def pk(self, reference, resource_type: str) -> int | None:
        """Primary key of our row for `reference` (a FHIR Reference) of `resource_type`, or None."""

    def resource(self, reference):
        """The validated resource a reference points at inside the bundle, or None."""


@dataclass
class Mapped:
    fields: dict[str, Any]
    m2m: dict[str, list[int]] = field(default_factory=dict)


# -- small helpers -------------------------------------------------------------------------------


def cut(value: str | None, length: int) -> str:
    """`value` as a string no longer than `length` ('' for None)."""
    return (value or "")[:length]


def as_datetime(value) -> dt.datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (UTC when no zone; partial dates -> day 1)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    text = str(value)
    parts = [int(p) for p in text[:10].split("-") if p.isdigit()]
    if not parts:
        return None
    year, month, day = [*parts, 1, 1][:3]
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


def as_date(value) -> dt.date | None:
    moment = as_datetime(value)
    return moment.date() if moment is not None else None


def as_decimal(value, places: int) -> Decimal | None:
    """`value` rounded to `places` decimals, as stored by a DecimalField with that many places."""
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        raise MappingError(f"number {value!r} does not fit") from None


def first_coding(concept) -> tuple[str, str, str]:
    """(system, code, display) of a CodeableConcept's first coding; display falls back to its text."""
    if concept is None:
        return "", "", ""
    coding = concept.coding[0] if concept.coding else None
    system = (coding.system or "") if coding else ""
    code = (coding.code or "") if coding else ""
    display = (coding.display if coding else None) or concept.text or ""
    return system, code, display


def coding_fields(concept, prefix: str = "code") -> dict[str, str]:
    """CodingFields values (`code_system`, `code`, `code_display`) or `<prefix>_system/...`."""
    system, code, display = first_coding(concept)
    if prefix == "code":
        return {"code_system": cut(system, 200), "code": cut(code, 64), "code_display": cut(display, 500)}
    return {
        f"{prefix}_system": cut(system, 200),
        f"{prefix}_code": cut(code, 64),
        f"{prefix}_display": cut(display, 500),
    }


def concept_code(concept, default: str = "") -> str:
    """The code of a CodeableConcept's first coding (status fields such as Condition.clinicalStatus)."""
    return first_coding(concept)[1] or default


def _reason(resource, ctx: Resolver) -> dict[str, str]:
    """reason_* fields from reasonCode, else from the Condition a reasonReference points at."""
    if getattr(resource, "reasonCode", None):
        return coding_fields(resource.reasonCode[0], "reason")
    for ref in getattr(resource, "reasonReference", None) or []:
        target = ctx.resource(ref)
        if target is not None and getattr(target, "code", None) is not None:
            return coding_fields(target.code, "reason")
        if ref.display:
            return {"reason_system": "", "reason_code": "", "reason_display": cut(ref.display, 500)}
    return {"reason_system": "", "reason_code": "", "reason_display": ""}


def _patient_id(reference, ctx: Resolver) -> int:
    pk = ctx.pk(reference, "Patient")
    if pk is None:
        ref = getattr(reference, "reference", None)
        raise MappingError(f"patient reference {ref!r} does not resolve to a Patient")
    return pk


def _record_links(resource, ctx: Resolver, subject_attr: str = "subject") -> dict[str, Any]:
    """patient_id (required) and encounter_id (optional) of a PatientRecordModel row."""
    return {
        "patient_id": _patient_id(getattr(resource, subject_attr), ctx),
        "encounter_id": ctx.pk(getattr(resource, "encounter", None), "Encounter"),
    }


def _address(addresses) -> dict[str, str]:
    if not addresses:
        return {"address_line": "", "city": "", "state": "", "postal_code": ""}
    a = addresses[0]
    return {
        "address_line": cut(", ".join(a.line or []), 200),
        "city": cut(a.city, 100),
        "state": cut(a.state, 100),
        "postal_code": cut(a.postalCode, 20),
    }


def _telecom(telecoms, system: str) -> str:
    for t in telecoms or []:
        if t.system == system and t.value:
            return t.value
    return ""


def _human_name(names) -> tuple[str, str, str]:
    """(family, given names, prefix) of the official name, else the first."""
    if not names:
        return "", "", ""
    name = next((n for n in names if n.use == "official"), names[0])
    family = name.family or ""
    given = " ".join(name.given or [])
    if not family and not given and name.text:
        given, _, family = name.text.rpartition(" ")
    return family, given, " ".join(name.prefix or [])


# -- mappers -------------------------------------------------------------------------------------


def organization(res, ctx: Resolver) -> Mapped:
    type_code = first_coding(res.type[0])[1] if res.type else ""
    return Mapped(
        {
            "name": cut(res.name or "Unnamed organization", 200),
            "type_code": cut(type_code, 32),
            "phone": cut(_telecom(res.telecom, "phone"), 32),
            **_address(res.address),
        }
    )


def practitioner_npi(res) -> str:
    """The practitioner's US NPI (identifier system http://hl7.org/fhir/sid/us-npi), or ''."""
    for ident in res.identifier or []:
        if ident.system == codes.NPI and ident.value:
            return ident.value
    return ""


def practitioner(res, ctx: Resolver) -> Mapped:
    family, given, prefix = _human_name(res.name)
    return Mapped(
        {
            "family_name": cut(family or "Unknown", 100),
            "given_names": cut(given, 150),
            "prefix": cut(prefix, 20),
            "gender": cut(res.gender, 8),
            "npi": cut(practitioner_npi(res), 20),
            "role": PractitionerRole.DOCTOR,
            "active": res.active if res.active is not None else True,
        }
    )


def patient(res, ctx: Resolver) -> Mapped:
    family, given, prefix = _human_name(res.name)
    if not family and not given:
        raise MappingError("Patient has no name")
    if res.birthDate is None:
        raise MappingError("Patient has no birthDate")
    gender = res.gender if res.gender in AdministrativeGender.values else AdministrativeGender.UNKNOWN
    national_id = ""
    for ident in res.identifier or []:
        type_code = first_coding(ident.type)[1] if ident.type else ""
        if ident.value and (ident.system == SSN_SYSTEM or type_code == "SS"):
            national_id = ident.value
            break
    language = ""
    if res.communication:
        comm = next((c for c in res.communication if c.preferred), res.communication[0])
        language = first_coding(comm.language)[1]
    deceased = as_datetime(res.deceasedDateTime)
    address = _address(res.address)
    return Mapped(
        {
            "family_name": cut(family, 100),
            "given_names": cut(given, 150),
            "prefix": cut(prefix, 20),
            "date_of_birth": as_date(res.birthDate),
            "gender": gender,
            "deceased_at": deceased,
            "phone": cut(_telecom(res.telecom, "phone"), 32),
            "email": cut(_telecom(res.telecom, "email"), 254),
            **address,
            "country": cut(res.address[0].country, 100) if res.address else "",
            "national_id": cut(normalise_national_id(national_id), 64),
            "preferred_language": cut(language, 35),
        }
    )


def encounter(res, ctx: Resolver) -> Mapped:
    class_code = (res.class_fhir.code or "").upper() if res.class_fhir else ""
    encounter_class = (
        class_code
        if class_code in EncounterClass.values
        else ENCOUNTER_CLASS_ALIASES.get(class_code, EncounterClass.AMBULATORY)
    )
    period = res.period
    start = as_datetime(period.start) if period else None
    if start is None:
        raise MappingError("Encounter has no period.start")
    practitioners = []
    for participant in res.participant or []:
        pk = ctx.pk(participant.individual, "Practitioner")
        if pk is not None and pk not in practitioners:
            practitioners.append(pk)
    disposition = ""
    if res.hospitalization and res.hospitalization.dischargeDisposition:
        disposition = first_coding(res.hospitalization.dischargeDisposition)[2]
    status = res.status if res.status in EncounterStatus.values else EncounterStatus.UNKNOWN
    return Mapped(
        {
            "patient_id": _patient_id(res.subject, ctx),
            "status": status,
            "encounter_class": encounter_class,
            **coding_fields(res.type[0] if res.type else None),
            "period_start": start,
            "period_end": as_datetime(period.end),
            "practitioner_id": practitioners[0] if practitioners else None,
            "organization_id": ctx.pk(res.serviceProvider, "Organization"),
            **_reason(res, ctx),
            "discharge_disposition": cut(disposition, 200),
        },
        m2m={"participants": practitioners[1:]},
    )


def condition(res, ctx: Resolver) -> Mapped:
    category = concept_code(res.category[0]) if res.category else ""
    return Mapped(
        {
            **_record_links(res, ctx),
            **coding_fields(res.code),
            "clinical_status": cut(concept_code(res.clinicalStatus, "active"), 16),
            "verification_status": cut(concept_code(res.verificationStatus, "confirmed"), 24),
            "category": cut(category or "encounter-diagnosis", 32),
            "onset_at": as_datetime(res.onsetDateTime)
            or (as_datetime(res.onsetPeriod.start) if res.onsetPeriod else None),
            "abatement_at": as_datetime(res.abatementDateTime),
            "recorded_at": as_datetime(res.recordedDate),
        }
    )


def allergy_intolerance(res, ctx: Resolver) -> Mapped:
    reactions = []
    for reaction in res.reaction or []:
        for manifestation in reaction.manifestation or []:
            reactions.append(
                {"manifestation": first_coding(manifestation)[2], "severity": reaction.severity or ""}
            )
    return Mapped(
        {
            **_record_links(res, ctx, "patient"),
            **coding_fields(res.code),
            "clinical_status": cut(concept_code(res.clinicalStatus, "active"), 16),
            "verification_status": cut(concept_code(res.verificationStatus, "confirmed"), 24),
            "allergy_type": cut(res.type, 16),
            "category": cut(res.category[0] if res.category else "", 16),
            "criticality": cut(res.criticality, 20),
            "onset_at": as_datetime(res.onsetDateTime),
            "recorded_at": as_datetime(res.recordedDate),
            "reactions": reactions,
        }
    )


def observation_category(res) -> str:
    """The first category code, with non-standard spellings (Synthea's `vital-sign`) normalised."""
    for concept in res.category or []:
        code = concept_code(concept)
        if code:
            return OBSERVATION_CATEGORY_ALIASES.get(code.lower(), code)
    return ""


def _json_number(value) -> int | float | None:
    """A Decimal as a JSON number: an int when integral (132, not 132.0), else a float."""
    if value is None:
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def _component(comp) -> dict[str, Any]:
    system, code, display = first_coding(comp.code)
    value, unit = None, ""
    if comp.valueQuantity is not None:
        value = _json_number(comp.valueQuantity.value)
        unit = comp.valueQuantity.code or comp.valueQuantity.unit or ""
    elif comp.valueCodeableConcept is not None:
        value = first_coding(comp.valueCodeableConcept)[2]
    elif comp.valueString is not None:
        value = comp.valueString
    elif comp.valueInteger is not None:
        value = comp.valueInteger
    return {"code": code, "system": system, "display": display, "value": value, "unit": unit}


def _component_order(component: dict) -> int:
    """Systolic before diastolic (so blood pressure reads 120/80); other components keep their order."""
    return {codes.LOINC_SYSTOLIC: 0, codes.LOINC_DIASTOLIC: 1}.get(component["code"], 2)


def observation(res, ctx: Resolver) -> Mapped:
    value_quantity, value_unit, value_string = None, "", ""
    value_code = {"value_code_system": "", "value_code": "", "value_code_display": ""}
    if res.valueQuantity is not None:
        value_quantity = as_decimal(res.valueQuantity.value, 6)
        value_unit = res.valueQuantity.code or res.valueQuantity.unit or ""
    elif res.valueCodeableConcept is not None:
        system, code, display = first_coding(res.valueCodeableConcept)
        value_code = {
            "value_code_system": cut(system, 200),
            "value_code": cut(code, 64),
            "value_code_display": cut(display, 500),
        }
    elif res.valueString is not None:
        value_string = res.valueString
    elif res.valueInteger is not None:
        value_quantity = as_decimal(res.valueInteger, 6)
    elif res.valueBoolean is not None:
        value_string = "true" if res.valueBoolean else "false"
    effective = as_datetime(res.effectiveDateTime) or as_datetime(res.effectiveInstant)
    if effective is None and res.effectivePeriod is not None:
        effective = as_datetime(res.effectivePeriod.start)
    return Mapped(
        {
            **_record_links(res, ctx),
            **coding_fields(res.code),
            "status": cut(res.status, 20),
            "category": cut(observation_category(res), 32),
            "effective_at": effective,
            "issued_at": as_datetime(res.issued),
            "value_quantity": value_quantity,
            "value_unit": cut(value_unit, 40),
            **value_code,
            "value_string": value_string,
            "components": sorted((_component(c) for c in res.component or []), key=_component_order),
        }
    )


def _dosage(instructions) -> dict[str, Any]:
    out = {
        "dosage_text": "",
        "dose_value": None,
        "dose_unit": "",
        "frequency_per_day": None,
        "as_needed": False,
    }
    if not instructions:
        return out
    dosage = instructions[0]
    text = dosage.text or "; ".join(
        first_coding(c)[2] for c in dosage.additionalInstruction or [] if first_coding(c)[2]
    )
    out["dosage_text"] = cut(text, 500)
    out["as_needed"] = bool(dosage.asNeededBoolean or dosage.asNeededCodeableConcept)
    for dose_rate in dosage.doseAndRate or []:
        if dose_rate.doseQuantity is not None and dose_rate.doseQuantity.value is not None:
            out["dose_value"] = as_decimal(dose_rate.doseQuantity.value, 4)
            out["dose_unit"] = cut(dose_rate.doseQuantity.code or dose_rate.doseQuantity.unit, 40)
            break
    repeat = dosage.timing.repeat if dosage.timing is not None else None
    if repeat is not None and repeat.frequency and repeat.period and repeat.periodUnit in PERIOD_UNIT_DAYS:
        days = Decimal(str(repeat.period)) * PERIOD_UNIT_DAYS[repeat.periodUnit]
        out["frequency_per_day"] = as_decimal(Decimal(repeat.frequency) / days, 2)
    return out


def medication_request(res, ctx: Resolver) -> Mapped:
    concept = res.medicationCodeableConcept
    if concept is None and res.medicationReference is not None:
        concept = getattr(ctx.resource(res.medicationReference), "code", None)
    medication = coding_fields(concept)
    if not medication["code_display"] and res.medicationReference is not None:
        medication["code_display"] = cut(res.medicationReference.display, 500)
    return Mapped(
        {
            **_record_links(res, ctx),
            **medication,
            "status": cut(res.status, 20),
            "intent": cut(res.intent, 20),
            "authored_on": as_datetime(res.authoredOn),
            "requester_id": ctx.pk(res.requester, "Practitioner"),
            **_dosage(res.dosageInstruction),
            **_reason(res, ctx),
        }
    )


def immunization(res, ctx: Resolver) -> Mapped:
    return Mapped(
        {
            **_record_links(res, ctx, "patient"),
            **coding_fields(res.vaccineCode),
            "status": cut(res.status, 20),
            "occurrence_at": as_datetime(res.occurrenceDateTime),
            "primary_source": res.primarySource if res.primarySource is not None else True,
        }
    )


def procedure(res, ctx: Resolver) -> Mapped:
    start = as_datetime(res.performedDateTime)
    end = None
    if res.performedPeriod is not None:
        start = as_datetime(res.performedPeriod.start)
        end = as_datetime(res.performedPeriod.end)
    return Mapped(
        {
            **_record_links(res, ctx),
            **coding_fields(res.code),
            "status": cut(res.status, 20),
            "performed_start": start,
            "performed_end": end,
            **_reason(res, ctx),
        }
    )


def diagnostic_report(res, ctx: Resolver) -> Mapped:
    category = concept_code(res.category[0]) if res.category else ""
    results = []
    for ref in res.result or []:
        pk = ctx.pk(ref, "Observation")
        if pk is not None and pk not in results:
            results.append(pk)
    effective = as_datetime(res.effectiveDateTime)
    if effective is None and res.effectivePeriod is not None:
        effective = as_datetime(res.effectivePeriod.start)
    return Mapped(
        {
            **_record_links(res, ctx),
            **coding_fields(res.code),
            "status": cut(res.status, 20),
            "category": cut(category, 16),
            "effective_at": effective,
            "issued_at": as_datetime(res.issued),
            "conclusion": res.conclusion or "",
        },
        m2m={"results": results},
    )


def care_plan(res, ctx: Resolver) -> Mapped:
    # Prefer a SNOMED CT category (the plan itself) over generic ones such as US Core "assess-plan".
    concepts = res.category or []
    main = next(
        (c for c in concepts if first_coding(c)[0] == codes.SNOMED), concepts[0] if concepts else None
    )
    activities = []
    for activity in res.activity or []:
        detail = activity.detail
        if detail is None:
            continue
        system, code, display = first_coding(detail.code)
        activities.append({"code": code, "system": system, "display": display, "status": detail.status or ""})
    addresses = []
    for ref in res.addresses or []:
        target = ctx.resource(ref)
        display = first_coding(target.code)[2] if getattr(target, "code", None) is not None else ref.display
        if display:
            addresses.append(display)
    fields = coding_fields(main)
    return Mapped(
        {
            **_record_links(res, ctx),
            **fields,
            "status": cut(res.status, 20),
            "intent": cut(res.intent, 20),
            "title": cut(res.title or fields["code_display"], 200),
            "period_start": as_datetime(res.period.start) if res.period else None,
            "period_end": as_datetime(res.period.end) if res.period else None,
            "activities": activities,
            "addresses": addresses,
        }
    )


def raw_patient_reference(res):
    """The Reference to the patient of a resource kept raw (Claim.patient, ExplanationOfBenefit.patient)."""
    return getattr(res, "patient", None) or getattr(res, "subject", None)
