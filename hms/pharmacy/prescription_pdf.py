"""The printable prescription (PDF, A4) drawn with ReportLab, and its audited export.

Content: the hospital, the prescriber, the patient (name, MRN, date of birth), the date signed, the item
(medication with its RxNorm code, strength, sig, quantity, refills, indication), the verification code in
text and as a QR code (ReportLab's own `reportlab.graphics.barcode.qr`; it encodes
"<hospital>|RX|<id>|<verification code>"), which a pharmacist checks at `/api/prescriptions/verify/?code=`.
"""

import io
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict

from .prescriptions import sig_text
from .selectors import prescription_get

PRINTABLE = ("active", "completed", "stopped")


def _qr(value: str, size: float) -> Drawing:
    widget = QrCodeWidget(value)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def prescription_pdf_bytes(rx) -> bytes:
    """The PDF of a signed prescription `rx` (a `MedicationRequest`) as bytes. No access check, no audit:
    use `prescription_pdf_export`."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=0)
    pdf.setTitle(f"Prescription {rx.verification_code}")
    pdf.setAuthor(settings.HOSPITAL_NAME)
    width, height = A4
    left, y = 20 * mm, height - 25 * mm
    try:
        tz = zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = timezone.get_default_timezone()

    def line(text: str, *, size: int = 11, bold: bool = False, gap: float = 6 * mm) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        for part in simpleSplit(text, "Helvetica-Bold" if bold else "Helvetica", size, width - 2 * left):
            pdf.drawString(left, y, part)
            y -= gap

    line(settings.HOSPITAL_NAME, size=16, bold=True, gap=8 * mm)
    line("Prescription", size=13, bold=True, gap=9 * mm)
    prescriber = rx.requester.display_name if rx.requester else ""
    if not prescriber and rx.signed_by:
        prescriber = rx.signed_by.get_full_name() or rx.signed_by.username
    signed = timezone.localtime(rx.signed_at, tz) if rx.signed_at else None
    patient = rx.patient
    line(f"Prescriber: {prescriber}")
    line(f"Date: {signed:%d %b %Y %H:%M}" if signed else "Date: -")
    line(f"Patient: {patient.family_name.upper()}, {patient.given_names}")
    line(f"MRN: {patient.mrn}    Date of birth: {patient.date_of_birth:%d %b %Y}", gap=10 * mm)
    line(f"Rx  {rx.code_display}", size=12, bold=True)
    line(f"RxNorm {rx.code}{'  ·  ' + rx.strength if rx.strength else ''}", size=9)
    line(f"Sig: {sig_text(rx)}")
    if rx.quantity is not None:
        line(f"Quantity: {rx.quantity.normalize():f} {rx.quantity_unit}".rstrip())
    line(f"Refills: {rx.refills}")
    if rx.indication_id:
        line(f"Indication: {rx.indication.code_display or rx.indication.code}")
    if rx.status != "active":
        line(f"Status: {rx.status.upper()}", bold=True)
    y -= 6 * mm
    line(f"Verification code: {rx.verification_code}", size=13, bold=True, gap=8 * mm)
    line("A pharmacist can check this code in Asclepius before dispensing.", size=9)
    qr = _qr(f"{settings.HOSPITAL_NAME}|RX|{rx.pk}|{rx.verification_code}", 35 * mm)
    renderPDF.draw(qr, pdf, width - left - 35 * mm, height - 65 * mm)
    pdf.setFont("Helvetica", 8)
    pdf.drawString(left, 15 * mm, f"Electronically signed. Prescription #{rx.pk}.")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def prescription_pdf_export(*, user, prescription_id, request=None) -> tuple[object, bytes]:
    """(prescription, PDF bytes) of a signed prescription `user` may read, with an "export" AuditEvent.

    Raises `NotFoundOrForbidden` (404) when `user` may not read it; `Conflict` (409) for a draft."""
    with transaction.atomic():
        rx = prescription_get(user=user, prescription_id=prescription_id)
        if rx.status not in PRINTABLE or not rx.signed_at or not rx.verification_code:
            raise Conflict("Only a signed prescription can be printed.")
        data = prescription_pdf_bytes(rx)
        audit_record(
            actor=user,
            action=AuditAction.EXPORT,
            request=request,
            patient=rx.patient,
            obj=rx,
            detail={"format": "pdf"},
        )
    return rx, data
