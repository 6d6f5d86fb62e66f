"""Daily health reports: the patient's own check-in from the portal, and the alerts to their doctor.

A report (`DailyHealthReport`, FHIR R4 `QuestionnaireResponse`) holds `mood` (great | good | okay | low |
bad), `symptoms` (free text, at most 2,000 characters), `rating` (whole number 1-10, 10 = best) and
optional home vitals (keys `hms.clinical.vitals.HOME_KEYS`: systolic/diastolic mm[Hg], heart_rate /min,
temperature Cel, spo2 %, weight kg, glucose mg/dL), validated exactly like staff vitals
(`vitals_clean`: 400 with the allowed range and units) and stored as `Observation` rows (category
vital-signs, or laboratory for glucose; note "Measured at home by the patient") linked by
`report.observations`.

One report per patient per local day (`settings.HOSPITAL_TIME_ZONE`): a second submission the same day
updates it; home vitals sent again replace the earlier ones of that report (the earlier rows are
soft-deleted with a reason, never removed).

Alert rule (`ALERT_EVENT` = "daily_report.alert", through `hms.messaging.services.notification_send`):
a report alerts when its rating is 3 or more points below the patient's previous report (the latest
live report of an earlier day, whatever its age), or when a home vital is flagged anything but normal
against the reference ranges of `hms.clinical.vitals`. Recipients (`report_doctors`): the doctors of
the patient's most recent encounter (already started, not cancelled) that had a doctor (its performer
and doctor participants with an active user account; the last 20 encounters are looked at, so a
nurse-only visit does not hide the doctor); if there is none, the doctor of the patient's most recent
appointment that has started, else of the next upcoming one (cancelled and entered-in-error excluded).
One alert per report per doctor: dedupe key `daily_report:<report id>:alert:<user id>`, so an update the same
day never alerts twice. The in-app message names the patient and the reasons; email and SMS say only
that a report needs review (no health data leaves the hospital's systems by email or SMS).
"""

import datetime as dt
import zoneinfo
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import NotFoundOrForbidden
from hms.patients.models import Patient
from hms.patients.selectors import clinical_records

from .models import DailyHealthReport, Encounter, Observation
from .vitals import (
    ALL_SPECS,
    HOME_KEYS,
    abnormal,
    display_text,
    effective_at_clean,
    label_for,
    observations_build,
    observations_save,
)
from .vitals import vitals_clean as _vitals_clean

MOODS = ("great", "good", "okay", "low", "bad")
MOOD_CHOICES = [(m, m.capitalize()) for m in MOODS]
RATING_MIN, RATING_MAX = 1, 10
RATING_DROP_ALERT = 3
ENCOUNTERS_SEARCHED = 20
SYMPTOMS_MAX = 2000
ALERT_EVENT = "daily_report.alert"
HOME_NOTE = "Measured at home by the patient"
REPLACED_REASON = "Replaced by the patient's updated daily report"


class Submitted(NamedTuple):
    """What `daily_report_submit` did: the report, whether it was new today, the doctors alerted."""

    report: DailyHealthReport
    created: bool
    alerted: list


def hospital_today() -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)).date()


def _clean(*, mood, symptoms, rating, vitals) -> tuple[str, str, int, dict]:
    errors: dict[str, list[str]] = {}
    mood = mood or ""
    if not isinstance(mood, str) or mood not in MOODS:
        errors["mood"] = [f"Choose one of: {', '.join(MOODS)}."]
    symptoms = symptoms or ""
    if not isinstance(symptoms, str):
        errors["symptoms"] = ["Not a valid string."]
    elif len(symptoms) > SYMPTOMS_MAX:
        errors["symptoms"] = [f"At most {SYMPTOMS_MAX} characters."]
    if isinstance(rating, str) and rating.strip().isdigit():
        rating = int(rating.strip())
    if isinstance(rating, bool) or not isinstance(rating, int) or not RATING_MIN <= rating <= RATING_MAX:
        errors["rating"] = [f"Rating must be a whole number between {RATING_MIN} and {RATING_MAX}."]
    clean_vitals = {}
    vitals = vitals or {}
    if not isinstance(vitals, dict):
        errors["vitals"] = ["Expected an object of home measurements."]
    elif any(v not in (None, "") for v in vitals.values()):
        try:
            clean_vitals = _vitals_clean(vitals, allowed=HOME_KEYS)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return mood, symptoms.strip(), rating, clean_vitals


def report_doctors(patient: Patient) -> list:
    """The users to alert about `patient`'s reports (see the module docstring for the rule)."""
    from hms.scheduling.models import Appointment

    now = timezone.now()
    encounters = (
        Encounter.objects.filter(patient=patient, deleted_at__isnull=True, period_start__lte=now)
        .exclude(status__in=("cancelled", "entered-in-error"))
        .select_related("practitioner__user")
        .prefetch_related("participants__user")
        .order_by("-period_start", "-id")[:ENCOUNTERS_SEARCHED]
    )
    users = []
    for encounter in encounters:
        practitioners = [encounter.practitioner, *encounter.participants.all()]
        users = [p.user for p in practitioners if p is not None and p.user_id]
        users = [u for u in users if u.is_active and u.role == Role.DOCTOR]
        if users:
            break
    if not users:
        appts = Appointment.objects.filter(patient=patient).exclude(
            status__in=("cancelled", "entered-in-error")
        )
        appt = (
            appts.filter(start__lte=now).select_related("practitioner__user").order_by("-start").first()
            or appts.filter(start__gt=now).select_related("practitioner__user").order_by("start").first()
        )
        if appt is not None and appt.practitioner.user_id:
            user = appt.practitioner.user
            users = [user] if user.is_active and user.role == Role.DOCTOR else []
    seen, out = set(), []
    for u in users:
        if u.pk not in seen:
            seen.add(u.pk)
            out.append(u)
    return out


def alert_reasons(report: DailyHealthReport, previous: DailyHealthReport | None, home: list) -> list[str]:
    """Why `report` alerts (empty = no alert): the rating drop, and each abnormal home vital."""
    reasons = []
    if previous is not None and previous.rating - report.rating >= RATING_DROP_ALERT:
        reasons.append(
            f"Rating dropped from {previous.rating} to {report.rating} "
            f"(previous report {previous.report_date:%Y-%m-%d})."
        )
    for obs in home:
        if abnormal(obs):
            reasons.append(f"{label_for(obs)}: {display_text(obs)} ({obs.get_interpretation_display()}).")
    return reasons


def _chart_url(patient) -> str:
    try:
        return reverse("portal:patient_chart", args=[patient.pk])
    except NoReverseMatch:  # pragma: no cover - the portal is always installed
        return ""


def daily_report_submit(*, patient: Patient, by, mood, rating, symptoms="", vitals=None, request=None):
    """Submit (or update) today's report for `patient`; returns a `Submitted` (report, created, alerted).

    - `by` must be the patient's own user account; anyone else gets `NotFoundOrForbidden` (404).
    - `mood`: one of `MOODS`; `rating`: int 1-10; `symptoms`: ≤ 2,000 characters; `vitals`: optional dict
      of home measurements (keys `HOME_KEYS`). Bad input → `ValidationError` keyed by field (400).
    - Atomic: the report, its Observations, the AuditEvent (create or update) and the alert deliveries.
    """
    if (
        by is None
        or not by.is_authenticated
        or by.role != Role.PATIENT
        or getattr(getattr(by, "patient", None), "pk", None) != patient.pk
        or patient.deleted_at is not None
    ):
        raise NotFoundOrForbidden()
    mood, symptoms, rating, clean_vitals = _clean(mood=mood, symptoms=symptoms, rating=rating, vitals=vitals)
    today = hospital_today()
    now = effective_at_clean(None)
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()  # one writer per patient
        report = DailyHealthReport.objects.filter(
            patient=patient, report_date=today, deleted_at__isnull=True
        ).first()
        created = report is None
        if created:
            report = DailyHealthReport(patient=patient, report_date=today)
        report.mood, report.symptoms, report.rating = mood, symptoms, rating
        report.full_clean(validate_constraints=False)
        report.save()
        home: list[Observation] = []
        replaced: list[int] = []
        if clean_vitals:
            for old in report.observations.filter(deleted_at__isnull=True):
                old.deleted_at, old.deleted_by, old.deletion_reason = now, by, REPLACED_REASON
                old.status = "entered-in-error"
                old.save(
                    update_fields=["deleted_at", "deleted_by", "deletion_reason", "status", "updated_at"]
                )
                replaced.append(old.pk)
            home = observations_save(
                observations_build(
                    patient=patient, clean=clean_vitals, effective_at=now, by=by, note=HOME_NOTE
                )
            )
            report.observations.add(*home)
        previous = (
            DailyHealthReport.objects.filter(patient=patient, report_date__lt=today, deleted_at__isnull=True)
            .order_by("-report_date", "-id")
            .first()
        )
        reasons = alert_reasons(report, previous, home)
        alerted = _alert(report, reasons) if reasons else []
        audit_record(
            actor=by,
            action=AuditAction.CREATE if created else AuditAction.UPDATE,
            request=request,
            patient=patient,
            obj=report,
            detail={
                "observations": [o.pk for o in home],
                "replaced_observations": replaced,
                "alert_reasons": len(reasons),
                "alerted_users": [u.pk for u in alerted],
            },
        )
    return Submitted(report, created, alerted)


def _alert(report: DailyHealthReport, reasons: list[str]) -> list:
    from hms.messaging.services import notification_send

    patient = report.patient
    alerted = []
    for doctor in report_doctors(patient):
        deliveries = notification_send(
            recipient=doctor,
            event=ALERT_EVENT,
            context={
                "patient_name": patient.full_name,
                "mrn": patient.mrn,
                "report_date": report.report_date,
                "rating": report.rating,
                "mood": report.mood,
                "reasons": reasons,
                "chart_url": _chart_url(patient),
            },
            dedupe_key=f"daily_report:{report.pk}:alert:{doctor.pk}",
        )
        if deliveries:
            alerted.append(doctor)
    return alerted


# ---------------------------------------------------------------- reads


def daily_reports_visible(*, user, patient: Patient | None = None) -> QuerySet[DailyHealthReport]:
    """Live reports `user` may read (the patient their own; doctors and nurses of patients in their
    care), newest first, with their live home Observations prefetched."""
    from django.db.models import Prefetch

    qs = clinical_records(user, DailyHealthReport, patient=patient)
    return qs.select_related("patient").prefetch_related(
        Prefetch("observations", queryset=Observation.objects.filter(deleted_at__isnull=True))
    )


def daily_report_get(*, user, report_id) -> DailyHealthReport:
    """One live report if `user` may read it; else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(report_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    report = daily_reports_visible(user=user).filter(pk=pk).first()
    if report is None:
        raise NotFoundOrForbidden()
    return report


def rating_trend(*, user, patient: Patient, days: int = 30) -> list[DailyHealthReport]:
    """The patient's reports of the last `days` local days (oldest first), for the trend chart."""
    since = hospital_today() - dt.timedelta(days=days - 1)
    return list(
        clinical_records(user, DailyHealthReport, patient=patient)
        .filter(report_date__gte=since)
        .order_by("report_date", "id")
    )


def home_vital_keys() -> list[tuple[str, str, str]]:
    """(key, label, unit) of each home vital, for forms."""
    return [(k, ALL_SPECS[k].label, ALL_SPECS[k].unit_display) for k in HOME_KEYS]


TIMELINE_LIMIT = 200


def timeline_daily_reports(user, patient, *, date_from=None, date_to=None):
    """Timeline source of kind "daily-report" (`hms.clinical.timeline`): the patient's live reports, newest
    first, at their submission time (`created_at`, aware), at most 200, read through the scoped selector.
    Register it with `register_timeline_source("daily-report", timeline_daily_reports)`."""
    from .timeline import TimelineItem

    qs = clinical_records(user, DailyHealthReport, patient=patient)
    if date_from is not None:
        qs = qs.filter(created_at__gte=date_from)
    if date_to is not None:
        qs = qs.filter(created_at__lt=date_to)
    try:
        url = reverse("portal:patient_daily_reports", args=[patient.pk])
    except NoReverseMatch:  # pragma: no cover - the portal is always installed
        url = ""
    for report in qs.order_by("-created_at", "-id")[:TIMELINE_LIMIT]:
        yield TimelineItem(
            kind="daily-report",
            at=report.created_at,
            title=f"Daily report: {report.rating}/10, mood {report.mood or '-'}",
            detail=report.symptoms[:500],
            object_type="clinical.DailyHealthReport",
            object_id=report.pk,
            url=url,
        )
