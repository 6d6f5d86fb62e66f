"""The payment receipt (PDF, A4) drawn with ReportLab, and its audited export.

Content: the hospital, "Receipt <receipt number>", the date and time received (hospital zone), the patient
(name, MRN), the invoice number it paid and the invoice's remaining balance, the method, the amount and
currency, the cashier, the refunds approved so far. Only a completed payment has a receipt.
"""

import io

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict

from .models import PaymentStatus
from .money import invoice_balance
from .payments import payment_get, refunded_amount
from .reports import hospital_tz


def receipt_pdf_bytes(payment) -> bytes:
    """The PDF receipt of a completed `payment` as bytes. No access check, no audit: use
    `receipt_pdf_export`."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=0)
    pdf.setTitle(f"Receipt {payment.receipt_number}")
    pdf.setAuthor(settings.HOSPITAL_NAME)
    height = A4[1]
    left, y = 20 * mm, height - 25 * mm

    def line(text: str, *, size: int = 11, bold: bool = False, gap: float = 7 * mm) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        pdf.drawString(left, y, text[:110])
        y -= gap

    patient = payment.patient
    received = timezone.localtime(payment.received_at, hospital_tz())
    line(settings.HOSPITAL_NAME, size=16, bold=True, gap=9 * mm)
    line(f"Receipt {payment.receipt_number}", size=13, bold=True, gap=9 * mm)
    line(f"Received: {received:%d %b %Y %H:%M} ({received.tzname()})")
    line(f"Patient: {patient.family_name.upper()}, {patient.given_names}    MRN: {patient.mrn}")
    if payment.invoice_id:
        inv = payment.invoice
        line(f"Invoice: {inv.number or inv.pk}    Balance now: {invoice_balance(inv)} {inv.currency}")
    else:
        line("Deposit to the patient's credit")
    line(f"Method: {payment.get_method_display()}")
    line(f"Amount received: {payment.amount} {payment.currency}", size=13, bold=True, gap=9 * mm)
    refunded = refunded_amount(payment)
    if refunded > 0:
        line(f"Refunded since: {refunded} {payment.currency}")
    cashier = payment.cashier
    line(f"Cashier: {cashier.get_full_name() or cashier.username}", size=9)
    pdf.setFont("Helvetica", 8)
    pdf.drawString(left, 15 * mm, f"Payment #{payment.pk}. Thank you.")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def receipt_pdf_export(*, user, payment_id, request=None) -> tuple[object, bytes]:
    """(payment, PDF bytes) of a completed payment `user` may read, with an "export" AuditEvent.

    Raises `NotFoundOrForbidden` (404) when `user` may not read it; `Conflict` (409) when it is pending or
    failed (no money received, no receipt)."""
    with transaction.atomic():
        payment = payment_get(user=user, payment_id=payment_id)
        if payment.status != PaymentStatus.COMPLETED:
            raise Conflict("Only a completed payment has a receipt.")
        data = receipt_pdf_bytes(payment)
        audit_record(
            actor=user,
            action=AuditAction.EXPORT,
            request=request,
            patient=payment.patient,
            obj=payment,
            detail={"format": "pdf", "receipt": payment.receipt_number},
        )
    return payment, data
