"""Charge capture from each source through the real services (encounter close, lab result, dispense, bed stays
with a transfer), idempotency, the versioned price list, manual charges and cancellation."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import charges
from hms.billing.models import ChargeItem, ChargeStatus, PriceListEntry
from hms.billing.price_seed import CPT, LOCAL
from hms.clinical.encounters import encounter_close
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.core.testing import EncounterFactory, PatientFactory, make_user
from hms.inpatient import services as adt
from hms.inpatient.models import BedStay
from hms.inpatient.tests.conftest import build_tree
from hms.inventory.tests.stock_fixtures import days, make_world, receive, signed_prescription
from hms.lab import services as lab
from hms.messaging.reminders import reminder_providers, reminders_run
from hms.pharmacy import dispensing

pytestmark = pytest.mark.django_db


def test_seed_price_list_has_every_payer_class_and_versions_by_date():
    entry = charges.price_lookup(CPT, "85025", "self-pay")
    assert entry.unit_price == Decimal("20.00") and entry.display == "Complete blood count with differential"
    assert charges.price_lookup(CPT, "85025", "insurance").unit_price == Decimal("17.00")
    assert charges.price_lookup(CPT, "85025", "government").unit_price == Decimal("14.00")
    # a new version from a later date; the old one stays for earlier dates
    today = timezone.localdate()
    PriceListEntry.objects.filter(code="85025", payer_class="self-pay").update(valid_to=today)
    PriceListEntry.objects.create(
        code_system=CPT, code="85025", display="CBC", category="lab", unit_price="22.50", valid_from=today
    )
    assert charges.price_lookup(CPT, "85025", "self-pay", today).unit_price == Decimal("22.50")
    assert charges.price_lookup(CPT, "85025", "self-pay", today - dt.timedelta(days=1)).unit_price == 20
    assert charges.price_lookup(CPT, "85025", "self-pay", dt.date(2019, 12, 31)) is None
    assert charges.price_lookup(CPT, "00000") is None
    assert charges.price_list_seed() == 0  # idempotent


def test_closing_a_visit_charges_the_doctors_fee_once():
    doctor = make_user(Role.DOCTOR)
    doctor.practitioner.consultation_fee = Decimal("120.00")
    doctor.practitioner.save()
    patient = PatientFactory()
    visit = EncounterFactory(patient=patient, practitioner=doctor.practitioner, status="in-progress")
    encounter_close(encounter=visit, disposition="home", by=doctor)
    charge = ChargeItem.objects.get(source_type="consultation", source_key=f"encounter:{visit.pk}")
    assert charge.patient == patient and charge.encounter == visit and charge.category == "consultation"
    assert charge.net_amount == Decimal("120.00") and charge.code == "99203"  # new patient: no prior visit
    assert charge.status == ChargeStatus.BILLABLE
    # idempotent: capturing the same event again returns the same charge
    again = charges.capture_consultation(visit)
    assert again.pk == charge.pk and ChargeItem.objects.filter(patient=patient).count() == 1


def test_a_doctor_without_a_fee_is_priced_from_the_list_as_an_established_patient():
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    EncounterFactory(patient=patient, practitioner=doctor.practitioner)  # an earlier finished visit
    visit = EncounterFactory(patient=patient, practitioner=doctor.practitioner, status="in-progress")
    encounter_close(encounter=visit, disposition="home", by=doctor)
    charge = ChargeItem.objects.get(source_key=f"encounter:{visit.pk}")
    assert charge.code == "99213" and charge.unit_price == Decimal("95.00")
    assert charge.price_entry.code == "99213"


def test_a_final_lab_result_charges_the_test_by_its_cpt_code():
    doctor = make_user(Role.DOCTOR)
    tech = make_user(Role.LAB_TECHNICIAN)
    patient = PatientFactory()
    EncounterFactory(patient=patient, practitioner=doctor.practitioner)
    (order,) = lab.lab_order_create(patient=patient, codes=["4548-4"], by=doctor)
    lab.lab_result_record(order=order, results=[{"value": "5.4"}], status="preliminary", by=tech)
    assert not ChargeItem.objects.filter(source_type="lab").exists()  # preliminary: not yet
    lab.lab_result_record(order=order, results=[{"value": "5.5"}], by=tech)
    charge = ChargeItem.objects.get(source_type="lab")
    assert charge.source_key == f"lab-order:{order.pk}" and charge.code == "83036"
    assert charge.net_amount == Decimal("22.00") and charge.display == "Hemoglobin A1c"


def test_a_dispense_charges_the_medication_at_inventory_cost_plus_the_fee():
    world = make_world()
    receive(world, world["amox"], "A", "100", days(300))
    rx = signed_prescription(world["patient"], quantity="21", doctor=world["doctor"])
    dispense = dispensing.prescription_dispense(
        prescription=rx, quantity=Decimal("21"), location=world["pharmacy"], by=world["pharmacist"]
    )
    med = ChargeItem.objects.get(source_key=f"dispense:{dispense.pk}")
    fee = ChargeItem.objects.get(source_key=f"dispense:{dispense.pk}:fee")
    assert med.quantity == 21 and med.unit_price == Decimal("0.12") and med.net_amount == Decimal("2.52")
    assert fee.code == "DISP-FEE" and fee.net_amount == Decimal("5.00")
    assert {med.category, fee.category} == {"medication"}


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)), timezone.get_current_timezone())


def test_bed_days_by_midnight_census_with_a_transfer_one_per_day():
    assert charges.bed_days_provider in reminder_providers()
    admin = make_user(Role.ADMIN)
    tree = build_tree(admin)
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory(gender="female")
    admission = adt.admission_create(
        patient=patient,
        admitting_practitioner=doctor.practitioner,
        source="emergency",
        reason="Pneumonia",
        bed=tree["beds"]["M1-1"],
        by=doctor,
    )
    adt.admission_transfer(admission=admission, bed=tree["beds"]["F1-1"], by=doctor)
    today = timezone.localdate()
    first, second = BedStay.objects.filter(admission=admission).order_by("start")
    # admitted 3 days ago at 14:00 in medicine, moved to maternity 2 days ago at 10:00
    BedStay.objects.filter(pk=first.pk).update(
        start=_at(today - dt.timedelta(days=3), 14), end=_at(today - dt.timedelta(days=2), 10)
    )
    BedStay.objects.filter(pk=second.pk).update(start=_at(today - dt.timedelta(days=2), 10))
    admission.refresh_from_db()

    # the periodic job charges the nights so far (midnights -2, -1 and today's), idempotently
    reminders_run()  # the beat's registry runs the capture
    assert ChargeItem.objects.filter(source_type="bed-day").count() == 3
    assert charges.bed_days_capture() == 1  # again: nothing new
    assert ChargeItem.objects.filter(source_type="bed-day").count() == 3

    adt.admission_discharge(admission=admission, disposition="home", summary="Recovered.", by=doctor)
    rows = list(ChargeItem.objects.filter(source_type="bed-day").order_by("occurred_at"))
    assert [r.code for r in rows] == ["BED-GEN", "BED-MAT", "BED-MAT"]  # ward of the bed at each midnight
    assert [r.source_key for r in rows] == [
        f"admission:{admission.pk}:{(today - dt.timedelta(days=n)).isoformat()}" for n in (3, 2, 1)
    ]
    assert rows[0].net_amount == Decimal("650.00") and rows[1].net_amount == Decimal("800.00")


def test_a_same_day_stay_is_one_bed_day():
    admin = make_user(Role.ADMIN)
    tree = build_tree(admin)
    doctor = make_user(Role.DOCTOR)
    admission = adt.admission_create(
        patient=PatientFactory(),
        admitting_practitioner=doctor.practitioner,
        source="clinic",
        reason="Observation",
        bed=tree["beds"]["M2-1"],
        by=doctor,
    )
    adt.admission_discharge(admission=admission, disposition="home", summary="Fine.", by=doctor)
    (charge,) = ChargeItem.objects.filter(source_type="bed-day")
    assert charge.code == "BED-GEN" and charge.encounter_id == admission.encounter_id


def test_manual_charge_needs_a_clerk_and_a_reason_and_can_be_cancelled_while_uninvoiced():
    clerk = make_user(Role.BILLING)
    patient = PatientFactory()
    with pytest.raises(ValidationError) as err:
        charges.charge_manual_create(patient=patient, code_system=LOCAL, code="TV-DAY", reason=" ", by=clerk)
    assert "reason" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        charges.charge_manual_create(patient=patient, code="NOPE", reason="x", by=clerk)
    assert "code" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        charges.charge_manual_create(patient=patient, display="x", unit_price="-1", reason="x", by=clerk)
    assert "unit_price" in err.value.message_dict
    for role in (Role.DOCTOR, Role.RECEPTIONIST, Role.PATIENT):
        with pytest.raises(NotFoundOrForbidden):
            charges.charge_manual_create(
                patient=patient, display="x", unit_price=1, reason="x", by=make_user(role)
            )
    assert not ChargeItem.objects.exists()

    tv = charges.charge_manual_create(
        patient=patient, code_system=LOCAL, code="TV-DAY", quantity=3, reason="TV in room 4", by=clerk
    )
    assert tv.net_amount == Decimal("22.50") and tv.tax_amount == Decimal("1.86") and tv.entered_by == clerk
    assert AuditEvent.objects.filter(
        action="create", object_type="billing.ChargeItem", patient_id=patient.pk
    ).exists()
    with pytest.raises(ValidationError):
        charges.charge_cancel(charge=tv, reason="", by=clerk)
    cancelled = charges.charge_cancel(charge=tv, reason="Patient had no TV", by=clerk)
    assert cancelled.status == ChargeStatus.CANCELLED and "Patient had no TV" in cancelled.reason
    with pytest.raises(Conflict):
        charges.charge_cancel(charge=tv, reason="again", by=clerk)
