"""Demo wards and admissions for `manage.py demo_setup` (idempotent: keyed on location codes).

One building with three wards (intensive care, general medicine, maternity: female only), rooms of two to
four beds (30 beds), the demo nurse assigned to general medicine, and a few living demo patients admitted
by the demo doctor (one bed left in cleaning to show housekeeping).
"""

from django.db import transaction

from hms.accounts.roles import Role
from hms.patients.models import Patient

from . import services
from .models import Admission, AdmissionStatus, Location, NurseWardAssignment, PhysicalType

# (code, name, ward type, gender restriction, rooms: [(room code, beds)])
WARDS = [
    ("ICU", "Intensive care unit", "icu", "", [("ICU-A", 4), ("ICU-B", 4)]),
    (
        "MED",
        "General medicine",
        "general-medicine",
        "",
        [("MED-1", 4), ("MED-2", 4), ("MED-3", 2), ("MED-4", 2)],
    ),
    ("MAT", "Maternity", "maternity", "female", [("MAT-1", 4), ("MAT-2", 4), ("MAT-3", 2)]),
]


def demo_wards(accounts: dict) -> str:
    """Create the demo tree and admissions once; return a line for the command's output."""
    admin, doctor, nurse = accounts["admin"], accounts["doctor"], accounts["nurse"]
    if admin.role != Role.ADMIN:
        return "Wards: skipped (no demo admin)."
    with transaction.atomic():
        building = Location.objects.filter(code="MAIN", physical_type=PhysicalType.BUILDING).first()
        if building is None:
            building = services.location_create(
                physical_type=PhysicalType.BUILDING, name="Main building", code="MAIN", by=admin
            )
        beds: dict[str, list[Location]] = {}
        for order, (code, name, ward_type, gender, rooms) in enumerate(WARDS):
            ward = Location.objects.filter(code=code, physical_type=PhysicalType.WARD).first()
            if ward is None:
                ward = services.location_create(
                    physical_type=PhysicalType.WARD,
                    parent=building,
                    name=name,
                    code=code,
                    ward_type=ward_type,
                    gender_restriction=gender,
                    sort_order=order,
                    by=admin,
                )
            for room_code, n in rooms:
                room = Location.objects.filter(code=room_code, physical_type=PhysicalType.ROOM).first()
                if room is None:
                    room = services.location_create(
                        physical_type=PhysicalType.ROOM,
                        parent=ward,
                        name=f"Room {room_code}",
                        code=room_code,
                        by=admin,
                    )
                for i in range(1, n + 1):
                    bed_code = f"{room_code}-{chr(64 + i)}"
                    bed = Location.objects.filter(code=bed_code, physical_type=PhysicalType.BED).first()
                    if bed is None:
                        bed = services.location_create(
                            physical_type=PhysicalType.BED,
                            parent=room,
                            name=bed_code,
                            code=bed_code,
                            sort_order=i,
                            by=admin,
                        )
                    beds.setdefault(code, []).append(bed)
        medicine = Location.objects.get(code="MED", physical_type=PhysicalType.WARD)
        NurseWardAssignment.objects.get_or_create(practitioner=nurse.practitioner, ward=medicine)
        admitted = 0
        if not Admission.objects.filter(ward__parent=building).exists():
            living = Patient.objects.filter(
                deleted_at__isnull=True, deceased_at__isnull=True, identity_unknown=False
            ).exclude(admissions__status=AdmissionStatus.ACTIVE)
            plan = [
                ("MED", "Community-acquired pneumonia"),
                ("MED", "Heart failure exacerbation"),
                ("ICU", "Sepsis, monitoring"),
                ("MAT", "Labour"),
            ]
            for ward_code, reason in plan:
                gender = "female" if ward_code == "MAT" else None
                candidates = living.filter(gender=gender) if gender else living
                patient = candidates.exclude(admissions__status=AdmissionStatus.ACTIVE).order_by("id").first()
                bed = next((b for b in beds[ward_code] if b.status == "free"), None)
                if patient is None or bed is None:
                    continue
                services.admission_create(
                    patient=patient,
                    admitting_practitioner=doctor.practitioner,
                    source="emergency",
                    reason=reason,
                    bed=bed,
                    by=doctor,
                )
                bed.status = "occupied"
                admitted += 1
            free = [b for b in beds["MED"] if Location.objects.get(pk=b.pk).status == "free"]
            if free:
                services.bed_set_status(bed=free[-1], status="cleaning", by=admin)
    total = sum(len(v) for v in beds.values())
    return (
        f"Wards: 3 wards, {total} beds; {admitted} new demo admission(s); "
        "the demo nurse works on general medicine."
    )
