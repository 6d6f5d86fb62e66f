"""Demo prescriptions: the demo doctor signs two prescriptions for the demo patient, so the pharmacist's
work list, the patient's prescriptions page and the medication reminders are not empty after `make run`.
Idempotent (skips a drug the patient already has an active prescription of from this doctor)."""

from decimal import Decimal

from hms.pharmacy.models import MedicationRequest
from hms.pharmacy.prescriptions import prescription_create_draft, prescription_sign

# (RxNorm, dose, unit, frequency, days, quantity, quantity unit, instructions): stocked by hms.inventory.demo
DEMO_PRESCRIPTIONS = [
    ("308192", "500", "mg", "TID", 7, "21", "tablet", "Take with water until the course is finished."),
    ("314076", "10", "mg", "QD", 30, "30", "tablet", "Take in the morning."),
]


def demo_prescriptions(doctor_user, patient) -> str:
    """Sign the demo prescriptions (through the real services: checks run, overrides are audited)."""
    if patient is None or getattr(doctor_user, "practitioner", None) is None:
        return "Prescriptions: no demo patient or doctor; none written."
    made = 0
    for rxcui, dose, unit, freq, days, qty, qty_unit, text in DEMO_PRESCRIPTIONS:
        exists = MedicationRequest.objects.filter(
            patient=patient, code=rxcui, status="active", requester=doctor_user.practitioner
        ).exists()
        if exists:
            continue
        draft = prescription_create_draft(
            patient=patient,
            medication=rxcui,
            by=doctor_user,
            dose_value=Decimal(dose),
            dose_unit=unit,
            frequency_code=freq,
            duration_days=days,
            quantity=Decimal(qty),
            quantity_unit=qty_unit,
            instructions=text,
        )
        prescription_sign(
            prescription=draft, by=doctor_user, override_reason="Demo data: reviewed by the demo doctor."
        )
        made += 1
    return f"Prescriptions: {made} new signed demo prescription(s) for the demo patient."
