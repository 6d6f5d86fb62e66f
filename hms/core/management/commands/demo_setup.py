"""`manage.py demo_setup`: the demo of `make run`. Idempotent: a second run neither duplicates nor fails.

1. Patients: imports the Synthea DEV set from `settings.SYNTHEA_DIR` (support bundles first); when that
   folder is absent, creates 20 patients with records from `hms.core.synthetic` instead.
2. One account per role (admin, doctor, nurse, receptionist, pharmacist, lab, billing, patient), password
   from the `DEMO_PASSWORD` environment variable (default "asclepius-demo"). The admin is staff (Django admin
   access) but not a superuser: like every role it sees only what its group allows (no clinical
   records); clinical roles get a `staff.Practitioner`; the patient account is linked to one adult,
   living demo patient (the one with most encounters).
3. Puts every demo patient in the demo doctor's and nurse's care: an upcoming planned ambulatory
   "Follow-up visit" (for a deceased patient, a finished "Record review" today instead), keyed
   `source_system="urn:asclepius:demo"`.
4. Clinics: visit types, Mon-Fri hours for the demo doctor and two specialists (cardiology, pediatrics),
   and the next free slots of the demo doctor booked for up to 4 demo patients (only when the doctor has
   no upcoming appointment), so find-a-doctor, the day view and the queue have something to show.
5. Prints the URL, the logins and where the API docs and the admin are.
"""

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from hms.accounts.models import User
from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.models import Encounter, EncounterClass, EncounterStatus
from hms.core import codes
from hms.core.synthetic import SYNTHETIC_SYSTEM, synthetic_patients_create
from hms.fhir.importer import SYNTHEA_SYSTEM, bundle_paths, fhir_import
from hms.patients.models import Patient
from hms.staff.models import Practitioner, PractitionerRole, Specialty

DEMO_SYSTEM = "urn:asclepius:demo"
DEFAULT_PASSWORD = "asclepius-demo"  # noqa: S105 - the documented demo password, overridable by DEMO_PASSWORD
SYNTHETIC_SEED = 2024
GENERAL_PRACTICE = "394814009"  # SNOMED CT "General practice" (Practice Setting Code value set)
# Visit types offered in the demo: (code, display, minutes).
DEMO_SERVICE_TYPES = [
    ("consultation", "Consultation", 20),
    ("follow-up", "Follow-up visit", 15),
    ("new-patient", "New patient visit", 30),
]
# Specialists bookable in the demo (no login): (source id, given, family, SNOMED CT practice setting).
DEMO_SPECIALISTS = [
    ("practitioner-cardiology", "Amara", "Okafor", "394579002"),
    ("practitioner-pediatrics", "Lucas", "Moreau", "394537008"),
]
FOLLOW_UP = (codes.SNOMED, "390906007", "Follow-up visit")

# username, role, first name, last name, practitioner role (or None)
DEMO_ACCOUNTS = (
    ("admin", Role.ADMIN, "Ada", "Admin", None),
    ("doctor", Role.DOCTOR, "Gregory", "House", PractitionerRole.DOCTOR),
    ("nurse", Role.NURSE, "Florence", "Nightingale", PractitionerRole.NURSE),
    ("receptionist", Role.RECEPTIONIST, "Rita", "Reception", None),
    ("pharmacist", Role.PHARMACIST, "Paul", "Pharma", PractitionerRole.PHARMACIST),
    ("lab", Role.LAB_TECHNICIAN, "Louis", "Pasteur", PractitionerRole.LAB_TECHNICIAN),
    ("billing", Role.BILLING, "Bill", "Ledger", None),
    ("patient", Role.PATIENT, "", "", None),
)


class Command(BaseCommand):
    help = (
        "Load the demo: Synthea patients (or synthetic ones), one account per role, care links. Idempotent."
    )

    def handle(self, *args, **options):
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD
        patients = self._patients()
        accounts = self._accounts(password)
        self._patient_account(accounts["patient"], patients)
        planned = self._care_links(patients, accounts["doctor"].practitioner, accounts["nurse"].practitioner)
        self.stdout.write(f"Demo doctor and nurse: {planned} demo patient(s) in their care.")
        booked = self._clinics(accounts, patients)
        self.stdout.write(
            f"Clinics: visit types, weekly hours for 3 doctors; {booked} new demo appointment(s)."
        )
        from hms.inventory.demo import demo_stock

        self.stdout.write(demo_stock(accounts["pharmacist"]))
        from hms.pharmacy.demo import demo_prescriptions

        self.stdout.write(
            demo_prescriptions(accounts["doctor"], Patient.objects.filter(user=accounts["patient"]).first())
        )
        from hms.inpatient.demo import demo_wards  # wards, beds and admissions (issue 6)

        self.stdout.write(demo_wards(accounts))
        from hms.billing.demo import demo_billing  # price list, charges, an issued invoice (issue 7)

        self.stdout.write(demo_billing(accounts))
        from django.core.management import call_command  # historical insurance claims (issue 7)

        call_command("billing_import_claims", stdout=self.stdout)
        self._banner(password)

    # -- 1. patients -----------------------------------------------------------------------------------
    def _patients(self) -> list[Patient]:
        folder = Path(settings.SYNTHEA_DIR)
        files = bundle_paths([folder]) if folder.is_dir() else []
        if files:
            self.stdout.write(f"Importing the Synthea DEV set from {folder} ({len(files)} bundles) ...")
            summary = fhir_import(paths=files, progress=options_progress(self))
            self.stdout.write(summary.table())
            system = SYNTHEA_SYSTEM
        else:
            self.stdout.write(
                f"{folder} is absent: creating 20 synthetic patients with records "
                "(hms.core.synthetic) instead."
            )
            created = synthetic_patients_create(n=20, seed=SYNTHETIC_SEED, with_records=True)
            self.stdout.write(f"  {created} new synthetic patient(s).")
            system = SYNTHETIC_SYSTEM
        return list(
            Patient.objects.filter(source_system=system, deleted_at__isnull=True).order_by("source_id")
        )

    # -- 2. accounts -----------------------------------------------------------------------------------
    def _accounts(self, password: str) -> dict[str, User]:
        specialty = Specialty.objects.filter(code=GENERAL_PRACTICE).first()
        users = {}
        for username, role, first, last, practitioner_role in DEMO_ACCOUNTS:
            with transaction.atomic():
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={
                        "first_name": first,
                        "last_name": last,
                        "email": f"{username}@demo.asclepius.local",
                    },
                )
                user.set_password(password)
                user.is_active = True
                user.is_staff = role == Role.ADMIN
                user.is_superuser = False  # the admin role: accounts and settings, not clinical records
                user.save()
                user.groups.set([Group.objects.get(name=str(role))])
                if practitioner_role is not None:
                    self._practitioner(user, practitioner_role, specialty if role == Role.DOCTOR else None)
                if created:
                    audit_record(
                        action=AuditAction.CREATE,
                        channel="system",
                        obj=user,
                        detail={"role": str(role), "demo": True},
                    )
            users[username] = User.objects.get(pk=user.pk)
        return users

    def _practitioner(self, user: User, role: str, specialty) -> Practitioner:
        practitioner = (
            Practitioner.objects.filter(user=user).first()
            or Practitioner.objects.filter(
                source_system=DEMO_SYSTEM, source_id=f"practitioner-{user.username}"
            ).first()
            or Practitioner()
        )
        practitioner.user = user
        practitioner.source_system, practitioner.source_id = DEMO_SYSTEM, f"practitioner-{user.username}"
        practitioner.role = role
        practitioner.family_name, practitioner.given_names = user.last_name, user.first_name
        practitioner.prefix = "Dr." if role == PractitionerRole.DOCTOR else ""
        if role == PractitionerRole.DOCTOR:
            practitioner.specialty = specialty
            practitioner.consultation_fee = Decimal("75.00")
            practitioner.available_days = [1, 2, 3, 4, 5]
            practitioner.licence_number = practitioner.licence_number or "MD-DEMO-0001"
        practitioner.currency = settings.HOSPITAL_CURRENCY
        practitioner.full_clean()
        practitioner.save()
        return practitioner

    # -- 4. clinics: visit types, schedules, a few appointments ------------------------------------------
    def _clinics(self, accounts: dict[str, User], patients: list[Patient]) -> int:
        """Visit types; Mon-Fri 09:00-12:00 + 13:00-17:00 for the demo doctor and two specialists (no login);
        the next working day's first slots booked for up to 4 living demo patients, once."""
        from hms.scheduling.models import Appointment, ServiceType
        from hms.scheduling.schedule_services import schedule_for_practitioner, schedule_set_hours
        from hms.scheduling.selectors import slots_free
        from hms.scheduling.services import appointment_book

        consult = None
        for code, display, minutes in DEMO_SERVICE_TYPES:
            service, _ = ServiceType.objects.get_or_create(
                code=code, defaults={"display": display, "default_minutes": minutes}
            )
            consult = consult or service
        admin = accounts["admin"]
        doctors = [accounts["doctor"].practitioner]
        for source_id, given, family, specialty_code in DEMO_SPECIALISTS:
            specialty = Specialty.objects.filter(code=specialty_code).first()
            specialist, _ = Practitioner.objects.update_or_create(
                source_system=DEMO_SYSTEM,
                source_id=source_id,
                defaults={
                    "role": PractitionerRole.DOCTOR,
                    "prefix": "Dr.",
                    "given_names": given,
                    "family_name": family,
                    "specialty": specialty,
                    "consultation_fee": Decimal("120.00"),
                    "currency": settings.HOSPITAL_CURRENCY,
                    "available_days": [1, 2, 3, 4, 5],
                },
            )
            doctors.append(specialist)
        hours = [
            (day, dt.time.fromisoformat(start), dt.time.fromisoformat(end))
            for day in range(1, 6)
            for start, end in (("09:00", "12:00"), ("13:00", "17:00"))
        ]
        for practitioner in doctors:
            schedule = schedule_for_practitioner(practitioner=practitioner)
            if not schedule.working_hours.exists():
                schedule_set_hours(schedule=schedule, hours=hours, buffer_minutes=0, by=admin)
        doctor = doctors[0]
        if Appointment.objects.filter(practitioner=doctor, start__gte=timezone.now()).exists():
            return 0
        alive = [p for p in patients if p.deceased_at is None][:4]
        today = timezone.localdate()
        free = slots_free(
            practitioner=doctor, service_type=consult, date_from=today, date_to=today + dt.timedelta(days=7)
        )
        booked = 0
        for patient, (start, _end) in zip(alive, free, strict=False):
            appointment_book(
                patient=patient,
                practitioner=doctor,
                service_type=consult,
                start=start,
                by=accounts["receptionist"],
                reason="Follow-up visit",
                channel="phone",
            )
            booked += 1
        return booked

    def _patient_account(self, user: User, patients: list[Patient]) -> None:
        if Patient.objects.filter(user=user).exists():
            return
        today = timezone.localdate()
        adults = (
            Patient.objects.filter(
                pk__in=[p.pk for p in patients],
                deceased_at__isnull=True,
                user__isnull=True,
                date_of_birth__lte=today.replace(year=today.year - 18),
            )
            .annotate(n=Count("encounters"))
            .order_by("-n", "source_id")
        )
        chosen = adults.first()
        if chosen is None:
            self.stdout.write(self.style.WARNING("No adult living patient to link to the patient account."))
            return
        with transaction.atomic():
            chosen.user = user
            chosen.save(update_fields=["user", "updated_at"])
            user.first_name, user.last_name = chosen.given_names[:150], chosen.family_name[:150]
            user.save(update_fields=["first_name", "last_name"])
            audit_record(
                action=AuditAction.UPDATE,
                channel="system",
                patient=chosen,
                obj=chosen,
                detail={"linked_user": user.username, "demo": True},
            )

    # -- 3. care links ---------------------------------------------------------------------------------
    def _care_links(self, patients: list[Patient], doctor: Practitioner, nurse: Practitioner) -> int:
        now = timezone.now()
        zone = ZoneInfo(settings.HOSPITAL_TIME_ZONE)
        tomorrow = timezone.localdate(now, zone) + dt.timedelta(days=1)
        done = 0
        for index, patient in enumerate(patients):
            source_id = f"followup-{patient.source_system}-{patient.source_id or patient.pk}"[-128:]
            with transaction.atomic():
                encounter = Encounter.objects.filter(source_system=DEMO_SYSTEM, source_id=source_id).first()
                if patient.deceased_at is not None:
                    fields = {"status": EncounterStatus.FINISHED, "code_display": "Record review"}
                    start = encounter.period_start if encounter else now
                    end = start + dt.timedelta(minutes=15)
                else:
                    fields = {"status": EncounterStatus.PLANNED, "code_display": FOLLOW_UP[2]}
                    start = encounter.period_start if encounter else None
                    if start is None or start <= now:  # keep it upcoming on every run
                        day = tomorrow + dt.timedelta(days=index // 8)
                        start = dt.datetime.combine(day, dt.time(9, 0), tzinfo=zone) + dt.timedelta(
                            minutes=30 * (index % 8)
                        )
                    end = start + dt.timedelta(minutes=30)
                new = encounter is None
                encounter = encounter or Encounter(
                    source_system=DEMO_SYSTEM, source_id=source_id, patient=patient
                )
                encounter.encounter_class = EncounterClass.AMBULATORY
                encounter.code_system, encounter.code = FOLLOW_UP[0], FOLLOW_UP[1]
                encounter.status, encounter.code_display = fields["status"], fields["code_display"]
                encounter.period_start, encounter.period_end = start, end
                encounter.practitioner = doctor
                encounter.full_clean()
                encounter.save()
                encounter.participants.add(nurse)
                if new:
                    audit_record(
                        action=AuditAction.CREATE,
                        channel="system",
                        patient=patient,
                        obj=encounter,
                        detail={"demo": True},
                    )
            done += 1
        return done

    # -- 4. banner -------------------------------------------------------------------------------------
    def _banner(self, password: str) -> None:
        rows = [(str(Role(role).label), username, password) for username, role, *_ in DEMO_ACCOUNTS]
        width = max(len(r[0]) for r in rows)
        line = "=" * 64
        out = [
            line,
            "Asclepius is ready:  http://127.0.0.1:8000",
            "",
            f"{'role':<{width}}  username      password",
        ]
        out += [f"{label:<{width}}  {username:<12}  {pw}" for label, username, pw in rows]
        out += [
            "",
            "API docs (Swagger UI):  http://127.0.0.1:8000/api/docs/",
            "Django admin:           http://127.0.0.1:8000/admin/  (user admin)",
            line,
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(out)))


def options_progress(command: BaseCommand) -> bool:
    """Draw the import's progress bar only on an interactive terminal."""
    stream = getattr(command.stdout, "_out", None)
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
