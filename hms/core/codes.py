"""Code system URIs (HL7 FHIR R4 terminology, https://hl7.org/fhir/R4/terminologies-systems.html)."""

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# LOINC codes the chart plots (https://loinc.org): blood pressure panel and its components, weight, BMI.
LOINC_BLOOD_PRESSURE = "85354-9"
LOINC_BLOOD_PRESSURE_SYNTHEA = "55284-4"  # "Blood pressure systolic and diastolic", the panel Synthea writes
BLOOD_PRESSURE_PANELS = (LOINC_BLOOD_PRESSURE, LOINC_BLOOD_PRESSURE_SYNTHEA)
LOINC_SYSTOLIC = "8480-6"
LOINC_DIASTOLIC = "8462-4"
LOINC_BODY_WEIGHT = "29463-7"
LOINC_BODY_HEIGHT = "8302-2"
LOINC_BMI = "39156-5"
LOINC_HEART_RATE = "8867-4"
LOINC_RESPIRATORY_RATE = "9279-1"
LOINC_BODY_TEMPERATURE = "8310-5"
LOINC_ORAL_TEMPERATURE = "8331-1"
