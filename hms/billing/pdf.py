"""The printable invoice or credit note (PDF, A4) drawn with ReportLab, and its audited export.

Content: the hospital, the document type and number, issue and due dates, the patient (name, MRN, address
line when known), one row per line (code, description, quantity, unit price, tax rate, line total), the
totals (net, tax, total), the insurer/patient shares when insured, amount paid and balance due.
Drafts print with a "DRAFT - not a valid invoice" banner (billing staff only can read drafts).
"""

import io
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from hms.audit.models import AuditAction
from hms.audit.services import audit_record

from .money import invoice_balance, quantize
from .selectors import invoice_get


def _amount(value) -> str:
    return f"{quantize(value):,.2f}"


def invoice_pdf_bytes(invoice) -> bytes:
    """The PDF of `invoice` as bytes. No access check, no audit: use `invoice_pdf_export`."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=0)
    kind = "Credit note" if invoice.kind == "credit-note" else "Invoice"
    pdf.setTitle(f"{kind} {invoice.number or 'draft'}")
    pdf.setAuthor(settings.HOSPITAL_NAME)
    width, height = A4
    left, right = 18 * mm, width - 18 * mm
    y = height - 22 * mm
    try:
        tz = zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = timezone.get_default_timezone()

    def text(x, value, *, size=10, bold=False, align="left"):
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        if align == "right":
            pdf.drawRightString(x, y, value)
        else:
            pdf.drawString(x, y, value)

    text(left, settings.HOSPITAL_NAME, size=16, bold=True)
    y -= 9 * mm
    text(left, f"{kind} {invoice.number or '(draft)'}", size=13, bold=True)
    if invoice.status == "draft":
        text(right, "DRAFT - not a valid invoice", size=11, bold=True, align="right")
    elif invoice.status == "cancelled":
        text(right, "CANCELLED by credit note", size=11, bold=True, align="right")
    y -= 7 * mm
    if invoice.issued_at:
        text(left, f"Issued: {timezone.localtime(invoice.issued_at, tz):%d %b %Y}")
    if invoice.due_date and invoice.kind == "invoice":
        text(left + 60 * mm, f"Due: {invoice.due_date:%d %b %Y}")
    if invoice.credit_note_for_id:
        text(left + 60 * mm, f"Cancels invoice {invoice.credit_note_for.number}")
    y -= 6 * mm
    patient = invoice.patient
    text(left, f"Patient: {patient.family_name.upper()}, {patient.given_names}    MRN: {patient.mrn}")
    y -= 6 * mm
    if invoice.coverage_id:
        cov = invoice.coverage
        text(left, f"Insurance: {cov.payer.name}, member {cov.member_id}")
        y -= 6 * mm
    y -= 4 * mm
    cols = (left, left + 22 * mm, right - 72 * mm, right - 50 * mm, right - 25 * mm, right)
    for x, title, align in zip(
        cols,
        ("Code", "Description", "Qty", "Unit price", "Tax", "Total"),
        ("l", "l", "r", "r", "r", "r"),
        strict=True,
    ):
        text(x, title, bold=True, align="right" if align == "r" else "left")
    y -= 2 * mm
    pdf.line(left, y, right, y)
    y -= 5 * mm
    for ln in invoice.lines.all():
        if y < 40 * mm:
            pdf.showPage()
            y = height - 22 * mm
        text(cols[0], ln.code[:12], size=9)
        text(cols[1], ln.description[:60], size=9)
        text(cols[2], f"{ln.quantity.normalize():f}", size=9, align="right")
        text(cols[3], f"{ln.unit_price.normalize():f}", size=9, align="right")
        text(cols[4], f"{ln.tax_rate * 100:.2f} %", size=9, align="right")
        text(cols[5], _amount(ln.total), size=9, align="right")
        y -= 5 * mm
    pdf.line(left, y + 2 * mm, right, y + 2 * mm)
    y -= 3 * mm
    rows = [
        ("Net", invoice.net_total),
        ("Tax", invoice.tax_total),
        (f"Total ({invoice.currency})", invoice.total),
    ]
    if invoice.coverage_id:
        rows += [("Insurer pays", invoice.insurer_share), ("Patient pays", invoice.patient_share)]
    if invoice.kind == "invoice":
        rows += [("Paid", invoice.amount_paid), ("Balance due", invoice_balance(invoice))]
    for label, value in rows:
        text(right - 30 * mm, label, bold=label.startswith(("Total", "Balance")), align="right")
        text(right, _amount(value), bold=label.startswith(("Total", "Balance")), align="right")
        y -= 6 * mm
    pdf.setFont("Helvetica", 8)
    pdf.drawString(
        left, 15 * mm, "Amounts rounded to the cent per line (half up). Questions: the billing office."
    )
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def invoice_pdf_export(*, user, invoice_id, request=None) -> tuple[object, bytes]:
    """(invoice, PDF bytes) of an invoice `user` may read (`invoices_visible`), with an "export" AuditEvent.
    Raises `NotFoundOrForbidden` (404) otherwise."""
    with transaction.atomic():
        invoice = invoice_get(user, invoice_id)
        data = invoice_pdf_bytes(invoice)
        audit_record(
            actor=user,
            action=AuditAction.EXPORT,
            request=request,
            patient=invoice.patient,
            obj=invoice,
            detail={"format": "pdf", "number": invoice.number},
        )
    return invoice, data
