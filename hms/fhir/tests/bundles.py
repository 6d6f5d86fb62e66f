"""Small FHIR R4 transaction bundles built by the tests themselves (Synthea-shaped, no files needed)."""

import uuid

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"


def uid(tag: str, name: str) -> str:
    """A stable uuid for resource `name` of bundle `tag`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"asclepius-test/{tag}/{name}"))


def entry(resource: dict) -> dict:
    return {
        "fullUrl": f"urn:uuid:{resource['id']}",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


def ref(tag: str, name: str) -> dict:
    return {"reference": f"urn:uuid:{uid(tag, name)}"}


def concept(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def quantity(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def observation(
    tag,
    name,
    *,
    code,
    display,
    category="vital-signs",
    value=None,
    unit="",
    at="2020-03-01T10:00:00+00:00",
    **extra,
) -> dict:
    resource = {
        "resourceType": "Observation",
        "id": uid(tag, name),
        "status": "final",
        "category": [{"coding": [{"system": OBS_CAT, "code": category, "display": category}]}],
        "code": concept(LOINC, code, display),
        "subject": ref(tag, "patient"),
        "encounter": ref(tag, "encounter"),
        "effectiveDateTime": at,
        "issued": at,
        **extra,
    }
    if value is not None:
        resource["valueQuantity"] = quantity(value, unit)
    return resource


def patient_bundle(
    tag: str = "a",
    *,
    family: str = "Testperson",
    npi: str = "9990001",
    birth: str = "1970-05-04",
    deceased: str | None = None,
) -> dict:
    """A patient with one encounter and one resource of every type the importer handles (and a Goal)."""
    patient = {
        "resourceType": "Patient",
        "id": uid(tag, "patient"),
        "identifier": [
            {"system": "https://github.com/synthetichealth/synthea", "value": uid(tag, "patient")},
            {
                "type": concept(
                    "http://terminology.hl7.org/CodeSystem/v2-0203", "SS", "Social Security Number"
                ),
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": "999-11-2222",
            },
        ],
        "name": [{"use": "official", "family": family, "given": ["Ana", "Maria"], "prefix": ["Mrs."]}],
        "telecom": [{"system": "phone", "value": "555-123-4567", "use": "home"}],
        "gender": "female",
        "birthDate": birth,
        "address": [
            {
                "line": ["1 Main Street"],
                "city": "Boston",
                "state": "Massachusetts",
                "postalCode": "02110",
                "country": "US",
            }
        ],
        "communication": [{"language": concept("urn:ietf:bcp:47", "es", "Spanish")}],
    }
    if deceased:
        patient["deceasedDateTime"] = deceased
    resources = [
        {
            "resourceType": "Organization",
            "id": uid(tag, "org"),
            "name": f"Hospital {tag}",
            "type": [
                concept(
                    "http://terminology.hl7.org/CodeSystem/organization-type", "prov", "Healthcare Provider"
                )
            ],
            "telecom": [{"system": "phone", "value": "6175550000"}],
            "address": [
                {"line": ["2 Hospital Road"], "city": "Boston", "state": "MA", "postalCode": "02110"}
            ],
        },
        {
            "resourceType": "Practitioner",
            "id": uid(tag, "practitioner"),
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
            "name": [{"family": "Welby", "given": ["Marcus"], "prefix": ["Dr."]}],
            "gender": "male",
        },
        patient,
        {
            "resourceType": "Encounter",
            "id": uid(tag, "encounter"),
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [concept(SNOMED, "185349003", "Encounter for check up (procedure)")],
            "subject": ref(tag, "patient"),
            "participant": [{"individual": ref(tag, "practitioner")}],
            "period": {"start": "2020-03-01T10:00:00+00:00", "end": "2020-03-01T10:30:00+00:00"},
            "reasonCode": [concept(SNOMED, "38341003", "Hypertension")],
            "serviceProvider": ref(tag, "org"),
        },
        {
            "resourceType": "Condition",
            "id": uid(tag, "condition"),
            "clinicalStatus": concept(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
            ),
            "verificationStatus": concept(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"
            ),
            "code": concept(SNOMED, "38341003", "Hypertension"),
            "subject": ref(tag, "patient"),
            "encounter": ref(tag, "encounter"),
            "onsetDateTime": "2020-03-01T10:00:00+00:00",
            "recordedDate": "2020-03-01T10:00:00+00:00",
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": uid(tag, "allergy"),
            "clinicalStatus": concept(
                "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"
            ),
            "type": "allergy",
            "category": ["food"],
            "criticality": "low",
            "code": concept(SNOMED, "91935009", "Allergy to peanuts"),
            "patient": ref(tag, "patient"),
            "recordedDate": "2001-01-01T00:00:00+00:00",
        },
        observation(tag, "weight", code="29463-7", display="Body Weight", value=71.25, unit="kg"),
        observation(
            tag,
            "bp",
            code="85354-9",
            display="Blood pressure panel",
            component=[
                {
                    "code": concept(LOINC, "8462-4", "Diastolic Blood Pressure"),
                    "valueQuantity": quantity(81, "mm[Hg]"),
                },
                {
                    "code": concept(LOINC, "8480-6", "Systolic Blood Pressure"),
                    "valueQuantity": quantity(132, "mm[Hg]"),
                },
            ],
        ),
        # The Synthea quirk: a category code "vital-sign" instead of "vital-signs".
        observation(
            tag,
            "temperature",
            code="8331-1",
            display="Oral temperature",
            category="vital-sign",
            value=37.1,
            unit="Cel",
        ),
        observation(
            tag,
            "ldl",
            code="18262-6",
            display="LDL Cholesterol",
            category="laboratory",
            value=131.5,
            unit="mg/dL",
        ),
        observation(
            tag,
            "smoking",
            code="72166-2",
            display="Tobacco smoking status NHIS",
            category="survey",
            valueCodeableConcept=concept(SNOMED, "8517006", "Former smoker"),
        ),
        {
            "resourceType": "DiagnosticReport",
            "id": uid(tag, "report"),
            "status": "final",
            "category": [concept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")],
            "code": concept(LOINC, "57698-3", "Lipid Panel"),
            "subject": ref(tag, "patient"),
            "encounter": ref(tag, "encounter"),
            "effectiveDateTime": "2020-03-01T10:00:00+00:00",
            "issued": "2020-03-01T10:00:00.416+00:00",
            "result": [{**ref(tag, "ldl"), "display": "LDL Cholesterol"}],
        },
        {
            "resourceType": "MedicationRequest",
            "id": uid(tag, "medication"),
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": concept(
                "http://www.nlm.nih.gov/research/umls/rxnorm", "314076", "lisinopril 10 MG Oral Tablet"
            ),
            "subject": ref(tag, "patient"),
            "encounter": ref(tag, "encounter"),
            "authoredOn": "2020-03-01T10:00:00+00:00",
            "requester": ref(tag, "practitioner"),
            "reasonReference": [ref(tag, "condition")],
            "dosageInstruction": [
                {
                    "sequence": 1,
                    "text": "Take one tablet twice a day",
                    "timing": {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}},
                    "asNeededBoolean": False,
                    "doseAndRate": [{"doseQuantity": {"value": 1}}],
                }
            ],
        },
        {
            "resourceType": "Immunization",
            "id": uid(tag, "immunization"),
            "status": "completed",
            "vaccineCode": concept("http://hl7.org/fhir/sid/cvx", "140", "Influenza, seasonal, injectable"),
            "patient": ref(tag, "patient"),
            "encounter": ref(tag, "encounter"),
            "occurrenceDateTime": "2020-03-01T10:00:00+00:00",
            "primarySource": True,
        },
        {
            "resourceType": "Procedure",
            "id": uid(tag, "procedure"),
            "status": "completed",
            "code": concept(SNOMED, "430193006", "Medication Reconciliation (procedure)"),
            "subject": ref(tag, "patient"),
            "encounter": ref(tag, "encounter"),
            "performedPeriod": {"start": "2020-03-01T10:05:00+00:00", "end": "2020-03-01T10:20:00+00:00"},
            "reasonReference": [ref(tag, "condition")],
        },
        {
            "resourceType": "CarePlan",
            "id": uid(tag, "careplan"),
            "status": "active",
            "intent": "order",
            "category": [concept(SNOMED, "443402002", "Lifestyle education regarding hypertension")],
            "subject": ref(tag, "patient"),
            "encounter": ref(tag, "encounter"),
            "period": {"start": "2020-03-01T10:00:00+00:00"},
            "addresses": [ref(tag, "condition")],
            "activity": [
                {
                    "detail": {
                        "code": concept(SNOMED, "386463000", "Prescribed activity/exercise education"),
                        "status": "in-progress",
                    }
                }
            ],
        },
        {
            "resourceType": "Claim",
            "id": uid(tag, "claim"),
            "status": "active",
            "type": concept(
                "http://terminology.hl7.org/CodeSystem/claim-type", "professional", "Professional"
            ),
            "use": "claim",
            "patient": ref(tag, "patient"),
            "created": "2020-03-01T10:30:00+00:00",
            "provider": ref(tag, "org"),
            "priority": concept("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal"),
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Medicare"}}],
            "item": [{"sequence": 1, "productOrService": concept(SNOMED, "185349003", "Check up")}],
            "total": {"value": 129.16, "currency": "USD"},
        },
        {
            "resourceType": "Goal",
            "id": uid(tag, "goal"),
            "lifecycleStatus": "accepted",
            "description": {"text": "Maintain blood pressure below 140/90"},
            "subject": ref(tag, "patient"),
        },
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [entry(r) for r in resources]}


def entry_index(bundle: dict, resource_type: str, name_id: str) -> int:
    for index, item in enumerate(bundle["entry"]):
        if item["resource"]["resourceType"] == resource_type and item["resource"]["id"] == name_id:
            return index
    raise LookupError(name_id)
