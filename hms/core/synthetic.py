"""Synthetic patients: our own generator, for the demo (when the Synthea files are absent) and `bench/`.

`synthetic_patients_create(*, n, seed, with_records=False, batch_size=2000, today=None, progress=None)`
writes `n` patients with realistic names, birth dates, sexes, phones and addresses and, with
`with_records`, a clinical history each (encounters; vitals with LOINC codes: height, weight, BMI,
blood pressure with systolic/diastolic components, heart rate, respiratory rate; conditions in
SNOMED CT; allergies; medication requests in RxNorm; immunizations in CVX).

Deterministic: the same `seed` and `today` give the same people and records (`random.Random(seed)`,
no network, no Faker). Every row is keyed `source_system="urn:asclepius:synthetic"`,
`source_id="syn-<seed>-<i>..."`, so a second call with the same seed creates nothing new.
Fast: one `mrn_allocate` block for all new patients, `bulk_create` in batches of `batch_size`, one
transaction (with its AuditEvent) per batch; demographics only reach about 10,000 patients/s on
PostgreSQL.

Distributions are loosely taken from the Synthea DEV set (../shared/data/synthea, 20 patients):
mostly ambulatory check-ups, ~5 % emergency and ~8 % inpatient encounters, a vitals panel at
check-ups, common acute problems (viral sinusitis, pharyngitis, bronchitis) and chronic ones
(obesity, prediabetes, hypertension), food and environmental allergies in about a fifth of patients,
a seasonal flu shot most years.
"""

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from hms.core import codes

SYNTHETIC_SYSTEM = "urn:asclepius:synthetic"

FEMALE_GIVEN = (
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Lisa",
    "Nancy",
    "Betty",
    "Margaret",
    "Sandra",
    "Ashley",
    "Kimberly",
    "Emily",
    "Donna",
    "Michelle",
    "Carol",
    "Amanda",
    "Dorothy",
    "Melissa",
    "Deborah",
    "Stephanie",
    "Rebecca",
    "Sharon",
    "Laura",
    "Cynthia",
    "Kathleen",
    "Amy",
    "Angela",
    "Shirley",
    "Anna",
    "Brenda",
    "Pamela",
    "Emma",
    "Nicole",
    "Helen",
    "Samantha",
    "Katherine",
    "Christine",
    "Debra",
    "Rachel",
    "Carolyn",
    "Janet",
    "Catherine",
    "Maria",
    "Heather",
    "Diane",
    "Ruth",
    "Julie",
    "Olivia",
    "Joyce",
    "Virginia",
    "Victoria",
    "Kelly",
    "Lauren",
    "Christina",
    "Joan",
    "Evelyn",
    "Judith",
    "Megan",
    "Andrea",
    "Cheryl",
    "Hannah",
    "Jacqueline",
    "Martha",
    "Gloria",
    "Teresa",
    "Ann",
    "Sara",
    "Madison",
    "Frances",
    "Kathryn",
    "Janice",
    "Jean",
    "Abigail",
    "Alice",
    "Sophia",
    "Isabella",
    "Mia",
    "Ava",
    "Chloe",
    "Grace",
    "Lucia",
    "Camila",
    "Aaliyah",
    "Mei",
    "Priya",
    "Fatima",
)
MALE_GIVEN = (
    "James",
    "Robert",
    "John",
    "Michael",
    "David",
    "William",
    "Richard",
    "Joseph",
    "Thomas",
    "Charles",
    "Christopher",
    "Daniel",
    "Matthew",
    "Anthony",
    "Mark",
    "Donald",
    "Steven",
    "Paul",
    "Andrew",
    "Joshua",
    "Kenneth",
    "Kevin",
    "Brian",
    "George",
    "Timothy",
    "Ronald",
    "Edward",
    "Jason",
    "Jeffrey",
    "Ryan",
    "Jacob",
    "Gary",
    "Nicholas",
    "Eric",
    "Jonathan",
    "Stephen",
    "Larry",
    "Justin",
    "Scott",
    "Brandon",
    "Benjamin",
    "Samuel",
    "Gregory",
    "Alexander",
    "Frank",
    "Patrick",
    "Raymond",
    "Jack",
    "Dennis",
    "Jerry",
    "Tyler",
    "Aaron",
    "Jose",
    "Adam",
    "Nathan",
    "Henry",
    "Douglas",
    "Zachary",
    "Peter",
    "Kyle",
    "Ethan",
    "Walter",
    "Noah",
    "Jeremy",
    "Christian",
    "Keith",
    "Roger",
    "Terry",
    "Gerald",
    "Harold",
    "Sean",
    "Austin",
    "Carl",
    "Arthur",
    "Lawrence",
    "Dylan",
    "Jesse",
    "Jordan",
    "Bryan",
    "Billy",
    "Joe",
    "Bruce",
    "Gabriel",
    "Liam",
    "Lucas",
    "Mateo",
    "Omar",
    "Wei",
    "Arjun",
    "Kwame",
    "Diego",
    "Hiroshi",
    "Ivan",
)
FAMILY = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Bell",
    "Coleman",
    "Butler",
    "Henderson",
    "Barnes",
    "Gonzales",
    "Fisher",
    "Vasquez",
    "Simmons",
    "Romero",
    "Jordan",
    "Patterson",
    "Alexander",
    "Hamilton",
    "Graham",
    "Reynolds",
    "Griffin",
    "Wallace",
    "Moreno",
    "West",
    "Cole",
    "Hayes",
    "Bryant",
    "Herrera",
    "Gibson",
    "Ellis",
    "Tran",
    "Medina",
    "Aguilar",
    "Stevens",
    "Murray",
    "Ford",
    "Castro",
    "Marshall",
    "Owens",
    "Harrison",
    "Fernandez",
    "McDonald",
    "Woods",
    "Washington",
    "Kennedy",
    "Wells",
    "Vargas",
    "Henry",
    "Chen",
    "Freeman",
    "Webb",
    "Tucker",
    "Guzman",
    "Burns",
    "Crawford",
    "Olson",
    "Simpson",
    "Porter",
    "Hunter",
    "Gordon",
    "Mendez",
    "Silva",
    "Shaw",
    "Snyder",
    "Mason",
    "Dixon",
    "Munoz",
    "Hunt",
    "Hicks",
    "Holmes",
    "Palmer",
    "Wagner",
    "Black",
    "Robertson",
    "Boyd",
    "Rose",
    "Stone",
    "Salazar",
    "Fox",
    "Warren",
    "Mills",
    "Meyer",
    "Rice",
    "Schmidt",
    "Garza",
    "Daniels",
    "Ferguson",
    "Nichols",
    "Stephens",
    "Soto",
    "Weaver",
    "Ryan",
    "Gardner",
    "Payne",
    "Grant",
    "Dunn",
    "Kelley",
    "Spencer",
    "Hawkins",
    "Arnold",
    "Pierce",
    "Vazquez",
    "Hansen",
    "Peters",
    "Santos",
    "Hart",
    "Bradley",
    "Knight",
    "Elliott",
    "Cunningham",
    "Duncan",
    "Armstrong",
    "Hudson",
    "Carroll",
    "Lane",
    "Riley",
    "Andrews",
    "Ray",
    "Berry",
    "Perkins",
    "Hoffman",
    "Johnston",
    "Matthews",
    "Pena",
    "Richards",
    "Contreras",
    "Willis",
    "Carpenter",
    "Lawrence",
    "Sandoval",
    "Guerrero",
    "George",
    "Chapman",
    "Rios",
    "Estrada",
    "Ortega",
    "Watkins",
    "Greene",
    "Nunez",
    "Wheeler",
    "Valdez",
    "Harper",
    "Burke",
    "Larson",
    "Santiago",
    "Maldonado",
    "Morrison",
    "Franklin",
    "Carlson",
    "Austin",
    "Dominguez",
    "Carr",
    "Lawson",
    "Jacobs",
    "OBrien",
    "Lynch",
    "Singh",
    "Vega",
    "Bishop",
    "Montgomery",
    "Oliver",
    "Jensen",
    "Harvey",
    "Williamson",
    "Gilbert",
    "Dean",
    "Sims",
    "Espinoza",
    "Howell",
    "Li",
    "Wong",
    "Reid",
    "Hanson",
    "Le",
    "McCoy",
    "Garrett",
    "Burton",
    "Fuller",
    "Wang",
    "Weber",
    "Welch",
    "Rojas",
    "Lucas",
    "Marquez",
    "Fields",
    "Park",
    "Yang",
    "Little",
    "Banks",
    "Padilla",
    "Day",
    "Walsh",
)
STREETS = (
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Walnut",
    "Spring",
    "North",
    "Ridge",
    "Church",
    "Willow",
    "Mill",
    "Sunset",
    "Highland",
    "River",
    "Chestnut",
    "Franklin",
    "Jefferson",
    "Lincoln",
    "Madison",
    "Meadow",
    "Forest",
    "Harbor",
    "Summer",
    "Winter",
    "Prospect",
    "School",
)
STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Way", "Place", "Terrace")
PLACES = (  # (city, state, ZIP code prefix)
    ("Boston", "Massachusetts", "021"),
    ("Worcester", "Massachusetts", "016"),
    ("Springfield", "Massachusetts", "011"),
    ("Cambridge", "Massachusetts", "021"),
    ("Lowell", "Massachusetts", "018"),
    ("Brockton", "Massachusetts", "023"),
    ("New Bedford", "Massachusetts", "027"),
    ("Quincy", "Massachusetts", "021"),
    ("Lynn", "Massachusetts", "019"),
    ("Fall River", "Massachusetts", "027"),
    ("Newton", "Massachusetts", "024"),
    ("Somerville", "Massachusetts", "021"),
    ("Framingham", "Massachusetts", "017"),
    ("Haverhill", "Massachusetts", "018"),
    ("Waltham", "Massachusetts", "024"),
    ("Malden", "Massachusetts", "021"),
    ("Medford", "Massachusetts", "021"),
    ("Taunton", "Massachusetts", "027"),
    ("Chicopee", "Massachusetts", "010"),
    ("Weymouth", "Massachusetts", "021"),
    ("Revere", "Massachusetts", "021"),
    ("Peabody", "Massachusetts", "019"),
    ("Methuen", "Massachusetts", "018"),
    ("Pittsfield", "Massachusetts", "012"),
)
LANGUAGES = (("en-US", 85), ("es", 9), ("pt", 2), ("zh", 2), ("vi", 1), ("fr", 1))

# Encounter types (SNOMED CT) and classes as seen in the Synthea DEV set.
CHECKUP = (codes.SNOMED, "185349003", "Encounter for check up (procedure)")
PROBLEM = (codes.SNOMED, "185347001", "Encounter for problem (procedure)")
SYMPTOM = (codes.SNOMED, "185345009", "Encounter for symptom")
EMERGENCY = (codes.SNOMED, "50849002", "Emergency room admission (procedure)")
INPATIENT = (codes.SNOMED, "183452005", "Encounter Inpatient")

# (SNOMED code, display, probability, minimum age, RxNorm (code, display, doses per day) or None)
CHRONIC_CONDITIONS = (
    ("162864005", "Body mass index 30+ - obesity (finding)", 0.25, 18, None),
    ("15777000", "Prediabetes", 0.20, 18, None),
    ("38341003", "Hypertension", 0.30, 40, ("314076", "lisinopril 10 MG Oral Tablet", 1)),
    (
        "44054006",
        "Diabetes",
        0.08,
        40,
        ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", 1),
    ),
    ("55822004", "Hyperlipidemia", 0.15, 40, ("312961", "Simvastatin 20 MG Oral Tablet", 1)),
    (
        "195967001",
        "Asthma",
        0.08,
        2,
        ("895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler", 2),
    ),
    ("271737000", "Anemia (disorder)", 0.05, 0, None),
    (
        "53741008",
        "Coronary Heart Disease",
        0.05,
        55,
        ("866414", "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet [Toprol]", 1),
    ),
)
ACUTE_CONDITIONS = (
    (
        "444814009",
        "Viral sinusitis (disorder)",
        ("562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", 2),
    ),
    ("195662009", "Acute viral pharyngitis (disorder)", ("313782", "Acetaminophen 325 MG Oral Tablet", 3)),
    ("10509002", "Acute bronchitis (disorder)", ("313782", "Acetaminophen 325 MG Oral Tablet", 3)),
    (
        "43878008",
        "Streptococcal sore throat (disorder)",
        ("834102", "Penicillin V Potassium 500 MG Oral Tablet", 2),
    ),
    ("44465007", "Sprain of ankle", ("310965", "Ibuprofen 200 MG Oral Tablet", 3)),
    ("65363002", "Otitis media", ("308182", "Amoxicillin 250 MG Oral Capsule", 3)),
)
# (SNOMED code, display, category)
ALLERGIES = (
    ("91934008", "Allergy to nut", "food"),
    ("91935009", "Allergy to peanuts", "food"),
    ("300913006", "Shellfish allergy", "food"),
    ("417532002", "Allergy to fish", "food"),
    ("425525006", "Allergy to dairy product", "food"),
    ("232347008", "Dander (animal) allergy", "environment"),
    ("419263009", "Allergy to tree pollen", "environment"),
    ("418689008", "Allergy to grass pollen", "environment"),
    ("419474003", "Allergy to mould", "environment"),
    ("232350006", "House dust mite allergy", "environment"),
    ("424213003", "Allergy to bee venom", "environment"),
    ("91936005", "Allergy to penicillin", "medication"),
)
FLU = ("140", "Influenza, seasonal, injectable, preservative free")
CHILD_VACCINES = (
    ("08", "Hep B, adolescent or pediatric"),
    ("20", "DTaP"),
    ("10", "IPV"),
    ("49", "Hib (PRP-OMP)"),
    ("133", "Pneumococcal conjugate PCV 13"),
    ("119", "rotavirus, monovalent"),
    ("03", "MMR"),
    ("21", "varicella"),
    ("83", "Hep A, ped/adol, 2 dose"),
)
ADULT_VACCINES = (
    ("113", "Td (adult) preservative free"),
    ("121", "zoster"),
    ("33", "pneumococcal polysaccharide vaccine, 23 valent"),
)


def _weighted(rng: random.Random, pairs) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _age_years(rng: random.Random) -> float:
    """Ages roughly like a US population: fewer of the very old."""
    band = rng.random()
    if band < 0.22:
        return rng.uniform(0, 18)
    if band < 0.80:
        return rng.uniform(18, 65)
    return rng.uniform(65, 98)


def _patient_fields(rng: random.Random, today: dt.date) -> dict:
    gender = "female" if rng.random() < 0.51 else "male"
    given = rng.choice(FEMALE_GIVEN if gender == "female" else MALE_GIVEN)
    if rng.random() < 0.15:  # a middle name
        given = f"{given} {rng.choice(FEMALE_GIVEN if gender == 'female' else MALE_GIVEN)}"
    family = rng.choice(FAMILY)
    if rng.random() < 0.05:
        family = f"{family}-{rng.choice(FAMILY)}"
    dob = today - dt.timedelta(days=int(_age_years(rng) * 365.25))
    city, state, zip_prefix = rng.choice(PLACES)
    phone = f"555-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    adult = (today - dob).days >= 18 * 365
    email = (
        f"{given.split()[0].lower()}.{family.lower()}{rng.randint(1, 999)}@example.com"
        if adult and (rng.random() < 0.6)
        else ""
    )
    prefix = ("Ms." if gender == "female" else "Mr.") if adult else ""
    return {
        "family_name": family,
        "given_names": given,
        "prefix": prefix,
        "date_of_birth": dob,
        "gender": gender,
        "phone": phone,
        "email": email,
        "address_line": f"{rng.randint(1, 999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}",
        "city": city,
        "state": state,
        "postal_code": f"{zip_prefix}{rng.randint(0, 99):02d}",
        "country": "US",
        "national_id": f"999{rng.randint(10, 99)}{rng.randint(1000, 9999)}",  # 999: never issued as an SSN
        "preferred_language": _weighted(rng, LANGUAGES),
        "blood_group": _weighted(
            rng, (("O+", 37), ("A+", 36), ("B+", 9), ("O-", 7), ("A-", 6), ("AB+", 3), ("B-", 1), ("AB-", 1))
        ),
    }


class _RecordBuilder:
    """One patient's clinical history as unsaved model instances (saved in bulk by the caller)."""

    def __init__(self, rng: random.Random, patient, key: str, today: dt.date):
        from hms.clinical.models import Encounter

        self.rng, self.patient, self.key, self.today = rng, patient, key, today
        self.now = dt.datetime.combine(today, dt.time(12, 0), tzinfo=dt.UTC)
        self.rows: dict[type, list] = {}
        self.encounter_model = Encounter
        self._n = 0

    def _sid(self, kind: str) -> str:
        self._n += 1
        return f"{self.key}-{kind}{self._n}"

    def _add(self, model, **fields):
        obj = model(patient=self.patient, source_system=SYNTHETIC_SYSTEM, **fields)
        self.rows.setdefault(model, []).append(obj)
        return obj

    def _encounter(self, when: dt.datetime, kind, encounter_class: str, hours: float, reason=None):
        system, code, display = kind
        reason_fields = (
            {"reason_system": codes.SNOMED, "reason_code": reason[0], "reason_display": reason[1]}
            if reason
            else {}
        )
        return self._add(
            self.encounter_model,
            source_id=self._sid("enc"),
            status="finished",
            encounter_class=encounter_class,
            code_system=system,
            code=code,
            code_display=display,
            period_start=when,
            period_end=when + dt.timedelta(hours=hours),
            **reason_fields,
        )

    def build(self) -> dict[type, list]:
        from hms.clinical.models import AllergyIntolerance, Condition, Observation

        rng, patient = self.rng, self.patient
        dob = dt.datetime.combine(patient.date_of_birth, dt.time(9, 0), tzinfo=dt.UTC)
        age = (self.today - patient.date_of_birth).days / 365.25
        span_years = max(0.5, min(age, 10.0))
        first = max(dob + dt.timedelta(days=30), self.now - dt.timedelta(days=int(span_years * 365)))
        # A check-up about once a year, plus problem/symptom/emergency/inpatient contacts.
        checkups = []
        moment = first + dt.timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 8))
        while moment < self.now - dt.timedelta(days=7):
            checkups.append(moment)
            moment += dt.timedelta(days=rng.randint(300, 430))
        if not checkups:
            checkups.append(self.now - dt.timedelta(days=rng.randint(8, 60)))
        height_adult = rng.gauss(176, 7) if patient.gender == "male" else rng.gauss(163, 6.5)
        bmi_base = rng.gauss(27.5, 4.5) if age >= 18 else rng.gauss(17.5, 2.0)
        chronic = [c for c in CHRONIC_CONDITIONS if age >= c[3] and rng.random() < c[2]]
        hypertensive = any(c[0] == "38341003" for c in chronic)
        for index, when in enumerate(checkups):
            enc = self._encounter(when, CHECKUP, "AMB", 0.5)
            years = (when - dob).days / 365.25
            height = 50 + (height_adult - 50) * min(1.0, years / 18) ** 0.7
            bmi = max(12.0, bmi_base + rng.gauss(0, 0.6))
            weight = bmi * (height / 100) ** 2
            systolic = rng.gauss(116 + 0.4 * max(0.0, years - 30) + (14 if hypertensive else 0), 9)
            diastolic = rng.gauss(75 + (8 if hypertensive else 0), 6)
            vitals = [
                (codes.LOINC_BODY_HEIGHT, "Body Height", height, "cm"),
                (codes.LOINC_BODY_WEIGHT, "Body Weight", weight, "kg"),
                (codes.LOINC_BMI, "Body Mass Index", bmi, "kg/m2"),
                (codes.LOINC_HEART_RATE, "Heart rate", rng.gauss(74, 9), "/min"),
                (codes.LOINC_RESPIRATORY_RATE, "Respiratory rate", rng.gauss(15, 2), "/min"),
            ]
            for code, display, value, unit in vitals:
                self._add(
                    Observation,
                    encounter=enc,
                    source_id=self._sid("obs"),
                    status="final",
                    category="vital-signs",
                    code_system=codes.LOINC,
                    code=code,
                    code_display=display,
                    effective_at=when,
                    issued_at=when,
                    value_quantity=Decimal(f"{value:.1f}"),
                    value_unit=unit,
                )
            self._add(
                Observation,
                encounter=enc,
                source_id=self._sid("obs"),
                status="final",
                category="vital-signs",
                code_system=codes.LOINC,
                code=codes.LOINC_BLOOD_PRESSURE,
                code_display="Blood pressure panel with all children optional",
                effective_at=when,
                issued_at=when,
                components=[
                    {
                        "code": codes.LOINC_SYSTOLIC,
                        "system": codes.LOINC,
                        "display": "Systolic blood pressure",
                        "value": round(systolic),
                        "unit": "mm[Hg]",
                    },
                    {
                        "code": codes.LOINC_DIASTOLIC,
                        "system": codes.LOINC,
                        "display": "Diastolic blood pressure",
                        "value": round(diastolic),
                        "unit": "mm[Hg]",
                    },
                ],
            )
            if years >= 0.5 and rng.random() < 0.75:
                self._immunization(enc, when, FLU)
            if years < 18 and rng.random() < 0.6:
                self._immunization(enc, when, rng.choice(CHILD_VACCINES))
            elif years >= 18 and rng.random() < 0.08:
                self._immunization(enc, when, rng.choice(ADULT_VACCINES))
            if index == 0 and rng.random() < 0.2:
                for code, display, category in rng.sample(ALLERGIES, rng.randint(1, 3)):
                    self._add(
                        AllergyIntolerance,
                        encounter=enc,
                        source_id=self._sid("alg"),
                        code_system=codes.SNOMED,
                        code=code,
                        code_display=display,
                        allergy_type="allergy",
                        category=category,
                        criticality="high" if rng.random() < 0.1 else "low",
                        recorded_at=when,
                    )
        for code, display, _, _, medication in chronic:
            when = rng.choice(checkups)
            enc = self._encounter(
                when + dt.timedelta(days=rng.randint(1, 20)), PROBLEM, "AMB", 0.5, reason=(code, display)
            )
            self._add(
                Condition,
                encounter=enc,
                source_id=self._sid("cnd"),
                code_system=codes.SNOMED,
                code=code,
                code_display=display,
                clinical_status="active",
                onset_at=enc.period_start,
                recorded_at=enc.period_start,
            )
            if medication:
                self._medication(enc, medication, (code, display), "active")
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            code, display, medication = rng.choice(ACUTE_CONDITIONS)
            when = first + dt.timedelta(days=rng.uniform(0, max(1.0, (self.now - first).days - 1)))
            roll = rng.random()
            kind, cls, hours = (
                (EMERGENCY, "EMER", 3)
                if roll < 0.06
                else ((INPATIENT, "IMP", 52) if roll < 0.1 else (SYMPTOM, "AMB", 0.25))
            )
            enc = self._encounter(when, kind, cls, hours, reason=(code, display))
            self._add(
                Condition,
                encounter=enc,
                source_id=self._sid("cnd"),
                code_system=codes.SNOMED,
                code=code,
                code_display=display,
                clinical_status="resolved",
                onset_at=when,
                recorded_at=when,
                abatement_at=when + dt.timedelta(days=rng.randint(7, 21)),
            )
            self._medication(enc, medication, (code, display), "stopped")
        return self.rows

    def _immunization(self, enc, when, vaccine) -> None:
        from hms.clinical.models import Immunization

        self._add(
            Immunization,
            encounter=enc,
            source_id=self._sid("imm"),
            code_system=codes.CVX,
            code=vaccine[0],
            code_display=vaccine[1],
            occurrence_at=when,
        )

    def _medication(self, enc, medication, reason, status) -> None:
        from hms.pharmacy.models import MedicationRequest

        code, display, per_day = medication
        self._add(
            MedicationRequest,
            encounter=enc,
            source_id=self._sid("med"),
            code_system=codes.RXNORM,
            code=code,
            code_display=display,
            status=status,
            authored_on=enc.period_start,
            dose_value=Decimal(1),
            frequency_per_day=Decimal(per_day),
            dosage_text=f"1 dose {per_day} time{'s' if per_day > 1 else ''} a day",
            reason_system=codes.SNOMED,
            reason_code=reason[0],
            reason_display=reason[1],
        )


def synthetic_patients_create(
    *,
    n: int,
    seed: int = 0,
    with_records: bool = False,
    batch_size: int = 2000,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Create `n` synthetic patients (0 ≤ n ≤ 10,000,000); returns how many were new.

    - `seed`: the same seed (and `today`) give the same patients; patients of this seed that exist
      already (source ids `syn-<seed>-<i>`) are skipped, so a rerun creates nothing.
    - `with_records`: also a clinical history per new patient (see the module docstring).
    - `today`: the reference date for ages and record dates (default: the hospital's today).
    - `progress(k)`: called after each batch with the number of patients handled in it.
    Raises ValueError for a negative or too large `n` or a `batch_size` below 1.
    """
    from hms.audit.models import AuditAction
    from hms.audit.services import audit_record
    from hms.patients.models import Patient
    from hms.patients.mrn import mrn_allocate

    if not 0 <= n <= 10_000_000:
        raise ValueError("n must be between 0 and 10,000,000")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    today = today or timezone.localdate()
    prefix = f"syn-{seed}-"
    existing = (
        set(
            Patient.objects.filter(source_system=SYNTHETIC_SYSTEM, source_id__startswith=prefix).values_list(
                "source_id", flat=True
            )
        )
        if n
        else set()
    )
    wanted = sum(1 for i in range(n) if f"{prefix}{i}" not in existing)
    mrns = iter(mrn_allocate(wanted)) if wanted else iter(())
    rng = random.Random(seed)
    created = 0
    for start in range(0, n, batch_size):
        batch, seeds = [], []
        for i in range(start, min(n, start + batch_size)):
            fields = _patient_fields(rng, today)
            record_seed = rng.getrandbits(32)
            source_id = f"{prefix}{i}"
            if source_id in existing:
                continue
            batch.append(
                Patient(mrn=next(mrns), source_system=SYNTHETIC_SYSTEM, source_id=source_id, **fields)
            )
            seeds.append(record_seed)
        if batch:
            with transaction.atomic():
                Patient.objects.bulk_create(batch, batch_size=batch_size)
                if with_records:
                    _records_create(batch, seeds, today)
                audit_record(
                    action=AuditAction.CREATE,
                    channel="system",
                    object_type="patients.Patient",
                    patients=[p.pk for p in batch],
                    detail={
                        "generator": "hms.core.synthetic",
                        "seed": seed,
                        "count": len(batch),
                        "with_records": with_records,
                    },
                )
            created += len(batch)
        if progress is not None:
            progress(min(n, start + batch_size) - start)
    return created


def _records_create(patients: list, seeds: list[int], today: dt.date) -> None:
    from hms.clinical.models import Encounter

    rows: dict[type, list] = {}
    for patient, record_seed in zip(patients, seeds, strict=True):
        built = _RecordBuilder(random.Random(record_seed), patient, patient.source_id, today).build()
        for model, objs in built.items():
            rows.setdefault(model, []).extend(objs)
    Encounter.objects.bulk_create(rows.pop(Encounter, []), batch_size=1000)
    for model, objs in rows.items():  # encounter_id is taken from the now-saved Encounter instances
        model.objects.bulk_create(objs, batch_size=1000)
