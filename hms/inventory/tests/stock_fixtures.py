"""Fixtures of the inventory and dispensing tests: a pharmacy with lots, signed prescriptions, every role."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from hms.accounts.roles import Role
from hms.core import codes
from hms.core.testing import make_user, put_in_care
from hms.inventory import services
from hms.inventory.models import InventoryItem, ItemKind, LocationKind, StockLocation
from hms.pharmacy.models import MedicationRequest

AMOXICILLIN = "308192"  # amoxicillin 500 MG Oral Capsule (RxNorm)
IBUPROFEN = "197806"  # ibuprofen 600 MG Oral Tablet


def days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


def signed_prescription(
    patient,
    *,
    rxcui=AMOXICILLIN,
    display="amoxicillin 500 MG Oral Capsule",
    quantity="21",
    refills=0,
    status="active",
    doctor=None,
    **extra,
) -> MedicationRequest:
    """A signed prescription row, as `hms.pharmacy.prescriptions.prescription_sign` leaves it."""
    return MedicationRequest.objects.create(
        patient=patient,
        code_system=codes.RXNORM,
        code=rxcui,
        code_display=display,
        status=status,
        authored_on=timezone.now(),
        requester=getattr(doctor, "practitioner", None),
        dose_value=Decimal("1"),
        dose_unit="capsule",
        frequency_per_day=Decimal("3"),
        quantity=Decimal(quantity) if quantity is not None else None,
        quantity_unit="capsule",
        refills=refills,
        signed_at=timezone.now() if status != "draft" else None,
        signed_by=doctor,
        cds_findings=[
            {
                "kind": "allergy",
                "severity": "moderate",
                "message": "Cross-sensitivity noted",
                "source": "test",
            }
        ],
        **extra,
    )


def make_world() -> dict:
    """pharmacist (+ a second), doctor and nurse caring for `patient` (with login), a stranger patient with
    their own login, one of every other role, a pharmacy and a ward store, amoxicillin and gloves items."""
    pharmacist = make_user(Role.PHARMACIST)
    doctor = make_user(Role.DOCTOR)
    nurse = make_user(Role.NURSE)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    put_in_care(doctor, patient)
    put_in_care(nurse, patient)
    stranger_user = make_user(Role.PATIENT)
    pharmacy = StockLocation.objects.create(name="Main pharmacy", kind=LocationKind.PHARMACY)
    ward = StockLocation.objects.create(name="Ward 3 store", kind=LocationKind.WARD)
    amox = InventoryItem.objects.create(
        kind=ItemKind.MEDICATION,
        rxcui=AMOXICILLIN,
        name="amoxicillin 500 MG Oral Capsule",
        unit="capsule",
        unit_cost=Decimal("0.12"),
    )
    gloves = InventoryItem.objects.create(
        kind=ItemKind.SUPPLY, name="Nitrile gloves (pair)", unit="pair", unit_cost=Decimal("0.08")
    )
    return {
        "pharmacist": pharmacist,
        "pharmacist2": make_user(Role.PHARMACIST),
        "doctor": doctor,
        "nurse": nurse,
        "patient_user": patient_user,
        "patient": patient,
        "stranger_user": stranger_user,
        "stranger": stranger_user.patient,
        "receptionist": make_user(Role.RECEPTIONIST),
        "billing": make_user(Role.BILLING),
        "lab": make_user(Role.LAB_TECHNICIAN),
        "admin": make_user(Role.ADMIN),
        "pharmacy": pharmacy,
        "ward": ward,
        "amox": amox,
        "gloves": gloves,
    }


def receive(world, item, lot, qty, expiry, cost=None, location=None):
    return services.stock_receive(
        item=item,
        location=location or world["pharmacy"],
        lot_number=lot,
        quantity=Decimal(qty),
        expiry_date=expiry,
        unit_cost=Decimal(cost) if cost is not None else None,
        by=world["pharmacist"],
    )
