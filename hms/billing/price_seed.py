"""The seed price list (pure data: read by migration `billing/0002_price_list` and `hms.billing.demo`).

Each row: (code_system, code, display, category, unit_price, tax_rate); one row per payer class is made
from it with `PAYER_FACTORS` (self-pay list price; insurance and government contracted rates), valid from
`SEED_VALID_FROM`. Prices are illustrative round numbers in USD, not anyone's fee schedule.

CPT notice: CPT® codes are copyright American Medical Association (AMA). Only the five-character codes are
used here, with short descriptors written by us (not the AMA's descriptors); a hospital deploying this needs
its own CPT licence. HCPCS Level II codes are public domain (CMS).
Revenue codes in the displays of bed-days are the NUBC UB-04 revenue codes (0110/0120 room and board, 0200
ICU, 0720 labour room, 0450 emergency room), named for orientation only; the codes themselves are local.
"""

from decimal import Decimal

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
LOCAL = "urn:asclepius:billing"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SEED_VALID_FROM = "2020-01-01"

# contracted rate = list price x factor, rounded half up to the cent
PAYER_FACTORS = {"self-pay": Decimal("1.00"), "insurance": Decimal("0.85"), "government": Decimal("0.70")}

SEED_ROWS = [
    # Evaluation and management (consultations): new patient 99202-99205, established 99212-99215
    (CPT, "99202", "Office visit, new patient, straightforward", "consultation", "90.00", "0"),
    (CPT, "99203", "Office visit, new patient, low complexity", "consultation", "130.00", "0"),
    (CPT, "99204", "Office visit, new patient, moderate complexity", "consultation", "200.00", "0"),
    (CPT, "99205", "Office visit, new patient, high complexity", "consultation", "260.00", "0"),
    (CPT, "99212", "Office visit, established patient, straightforward", "consultation", "60.00", "0"),
    (CPT, "99213", "Office visit, established patient, low complexity", "consultation", "95.00", "0"),
    (CPT, "99214", "Office visit, established patient, moderate complexity", "consultation", "140.00", "0"),
    (CPT, "99215", "Office visit, established patient, high complexity", "consultation", "190.00", "0"),
    # Laboratory
    (CPT, "80048", "Basic metabolic panel", "lab", "25.00", "0"),
    (CPT, "80053", "Comprehensive metabolic panel", "lab", "35.00", "0"),
    (CPT, "80061", "Lipid panel", "lab", "30.00", "0"),
    (CPT, "80076", "Hepatic function panel", "lab", "28.00", "0"),
    (CPT, "81003", "Urinalysis, automated, without microscopy", "lab", "8.00", "0"),
    (CPT, "83036", "Hemoglobin A1c", "lab", "22.00", "0"),
    (CPT, "84443", "Thyroid stimulating hormone", "lab", "40.00", "0"),
    (CPT, "85025", "Complete blood count with differential", "lab", "20.00", "0"),
    (CPT, "85610", "Prothrombin time (INR)", "lab", "12.00", "0"),
    (CPT, "86140", "C-reactive protein", "lab", "15.00", "0"),
    (CPT, "84484", "Troponin, quantitative", "lab", "45.00", "0"),
    (LOCAL, "LAB-OTHER", "Laboratory test, other", "lab", "20.00", "0"),
    # Procedures (common)
    (CPT, "36415", "Venous blood draw", "procedure", "10.00", "0"),
    (CPT, "93000", "Electrocardiogram with interpretation", "procedure", "50.00", "0"),
    (LOCAL, "PROC-OTHER", "Procedure, other (price reviewed by billing)", "procedure", "150.00", "0"),
    (CPT, "90471", "Immunization administration, first injection", "procedure", "25.00", "0"),
    # Bed-days per ward type (midnight census; see hms.billing.charges)
    (LOCAL, "BED-GEN", "Bed-day, general medicine ward (rev. 0120)", "bed-day", "650.00", "0"),
    (LOCAL, "BED-SURG", "Bed-day, surgical ward (rev. 0120)", "bed-day", "750.00", "0"),
    (LOCAL, "BED-PAED", "Bed-day, paediatric ward (rev. 0130)", "bed-day", "700.00", "0"),
    (LOCAL, "BED-MAT", "Bed-day, maternity ward (rev. 0720)", "bed-day", "800.00", "0"),
    (LOCAL, "BED-ICU", "Bed-day, intensive care (rev. 0200)", "bed-day", "2500.00", "0"),
    (LOCAL, "BED-ED", "Bed-day, emergency observation (rev. 0450)", "bed-day", "900.00", "0"),
    (LOCAL, "BED-OTHER", "Bed-day, other ward (rev. 0110)", "bed-day", "650.00", "0"),
    # Pharmacy: dispensing fee per dispense (the medication itself is priced from inventory cost)
    (LOCAL, "DISP-FEE", "Pharmacy dispensing fee", "medication", "5.00", "0"),
    # Non-medical items taxed at the standard sales-tax rate (example of a mixed-tax invoice)
    (LOCAL, "COPY-REC", "Copy of medical records (per page)", "other", "0.25", "0.0825"),
    (LOCAL, "TV-DAY", "Television rental, per day", "other", "7.50", "0.0825"),
]
