"""The printable discharge summary (PDF, A4) drawn with ReportLab, and its audited export.

Content: the hospital, the patient (name, MRN, date of birth), the admission (dates, source, ward, admitting
doctor, bed stays), the discharge disposition (FHIR discharge-disposition display), the diagnoses (the
inpatient encounter's Conditions, ICD-10-CM), the procedures (the encounter's Procedures, SNOMED CT), the
medications on discharge (the patient's active MedicationRequests, RxNorm), the follow-up appointment and the
summary text written by the discharging doctor.
"""

import io
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.encounters import DISCHARGE_DISPOSITIONS
from hms.clinical.models import Condition, Procedure
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.selectors import can_read_clinical

from .models import AdmissionStatus
from .selectors import admission_get, bed_days


def summary_sections(admission) -> dict:
    """The structured parts of a discharge summary: {diagnoses, procedures, medications} as lists of str."""
    from hms.pharmacy.models import MedicationRequest

    enc = admission.encounter_id
    diagnoses = [
        f"{c.code_display} ({c.code})" if c.code else c.code_display
        for c in Condition.objects.filter(encounter_id=enc, deleted_at__isnull=True).order_by("id")
    ]
    procedures = [
        p.code_display
        for p in Procedure.objects.filter(encounter_id=enc, deleted_at__isnull=True).order_by("id")
    ]
    medications = [
        " ".join(x for x in (m.code_display, m.strength, m.dosage_text) if x)
        for m in MedicationRequest.objects.filter(
            patient_id=admission.patient_id, status="active", deleted_at__isnull=True
        ).order_by("id")
    ]
    return {"diagnoses": diagnoses, "procedures": procedures, "medications": medications}


def discharge_summary_pdf_bytes(admission) -> bytes:
    """The PDF of a discharged `admission` as bytes. No access check, no audit: use
    `discharge_summary_pdf_export`."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=0)
    pdf.setTitle(f"Discharge summary {admission.pk}")
    pdf.setAuthor(settings.HOSPITAL_NAME)
    width, height = A4
    left, y = 20 * mm, height - 25 * mm
    try:
        tz = zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = timezone.get_default_timezone()

    def line(text: str, *, size: int = 10, bold: bool = False, gap: float = 5 * mm) -> None:
        nonlocal y
        font = "Helvetica-Bold" if bold else "Helvetica"
        for part in simpleSplit(text, font, size, width - 2 * left) or [""]:
            if y < 20 * mm:
                pdf.showPage()
                y = height - 20 * mm
            pdf.setFont(font, size)
            pdf.drawString(left, y, part)
            y -= gap

    def when(value) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    patient = admission.patient
    sections = summary_sections(admission)
    line(settings.HOSPITAL_NAME, size=14, bold=True, gap=7 * mm)
    line("Discharge summary", size=13, bold=True, gap=8 * mm)
    line(f"Patient: {patient.full_name}   MRN: {patient.mrn}   Born: {patient.date_of_birth:%Y-%m-%d}")
    line(
        f"Admitted: {when(admission.admitted_at)} ({admission.get_source_display()}) by "
        f"{admission.admitting_practitioner.display_name}"
    )
    line(f"Reason: {admission.reason}")
    line(f"Discharged: {when(admission.discharged_at)}   Bed-days: {bed_days(admission)}")
    disposition = DISCHARGE_DISPOSITIONS.get(admission.discharge_disposition, admission.discharge_disposition)
    line(f"Discharge disposition: {disposition}", gap=7 * mm)
    line("Stays", bold=True)
    for stay in admission.bed_stays.all():
        line(
            f"  {stay.bed.parent.parent.name if stay.bed.parent else ''} {stay.bed}: "
            f"{when(stay.start)} - {when(stay.end)}"
        )
    for title, key in (
        ("Diagnoses", "diagnoses"),
        ("Procedures", "procedures"),
        ("Medications on discharge", "medications"),
    ):
        line(title, bold=True)
        for item in sections[key] or ["None recorded."]:
            line(f"  - {item}")
    appt = admission.follow_up_appointment
    line("Follow-up", bold=True)
    line(f"  {when(appt.start)} with {appt.practitioner.display_name}" if appt else "  None booked.")
    line("Summary", bold=True)
    for paragraph in admission.discharge_summary.splitlines() or [""]:
        line(paragraph)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def discharge_summary_pdf_export(*, user, admission_id, request=None) -> tuple[object, bytes]:
    """(admission, PDF bytes) for a discharged admission the user may read clinically (doctors and nurses
    with the patient in their care, the patient). 404 otherwise; 409 while the patient is still admitted.
    Writes an "export" AuditEvent."""
    admission = admission_get(user, admission_id)
    if not can_read_clinical(user, admission.patient):
        raise NotFoundOrForbidden()
    if admission.status != AdmissionStatus.DISCHARGED:
        raise Conflict(
            "The summary is printable once the patient is discharged.", payload={"status": admission.status}
        )
    with transaction.atomic():
        data = discharge_summary_pdf_bytes(admission)
        audit_record(
            actor=user,
            action=AuditAction.EXPORT,
            request=request,
            patient=admission.patient,
            obj=admission,
            detail={"format": "pdf", "document": "discharge-summary"},
        )
    return admission, data
