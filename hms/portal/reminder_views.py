"""Portal pages of the patient's medication reminders (issue 5).

- `portal:medication_reminders` `/me/medication-reminders/`: the signed-in patient's ACTIVE
  prescriptions, each with its reminder switch and times (the patient's own "HH:MM" times, at most 6,
  or the frequency's default times), the hospital time zone the times are in, and the notification
  channels the reminders go to. Patients only (other roles go to their home page).
- `portal:medication_reminder_update` `/me/medication-reminders/<pk>/` (POST): saves one prescription's
  settings through `hms.pharmacy.reminders.prescription_reminders_update` (which validates and audits).
  htmx requests get the prescription's card back (200, with the field errors shown in it); a plain POST
  redirects to the page on success and re-renders it with 400 on bad input. Another patient's
  prescription or a draft: 404; a prescription no longer active: the card says so.

Thin: the prescriptions come from the scoped selectors (`hms.pharmacy.selectors` via
`hms.pharmacy.reminders`); the page read writes one "read" AuditEvent naming the patient.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict
from hms.messaging.services import preference_get
from hms.pharmacy import frequencies
from hms.pharmacy import reminders as rem

from .access import role_required

CHANNEL_LABELS = {"in_app": "in the portal", "email": "by e-mail", "sms": "by text message"}


class ReminderForm(forms.Form):
    reminders_enabled = forms.BooleanField(label="Send me reminders for this medication", required=False)
    reminder_times = forms.CharField(
        label="Reminder times",
        required=False,
        max_length=100,
        help_text="24-hour times separated by commas, e.g. 08:00, 20:00 (at most 6). Leave empty for the "
        "usual times.",
    )

    def __init__(self, *args, prescription=None, **kwargs):
        super().__init__(*args, **kwargs)
        if prescription is not None:
            prefix = f"rx{prescription.pk}"
            self.fields["reminders_enabled"].widget.attrs["id"] = f"{prefix}-enabled"
            self.fields["reminder_times"].widget.attrs.update(
                {"id": f"{prefix}-times", "inputmode": "numeric", "placeholder": "08:00, 20:00"}
            )

    def clean_reminder_times(self):
        try:
            return rem.clean_times(self.cleaned_data["reminder_times"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["reminder_times"]) from None


def _card(rx, form=None, *, saved=False, error="") -> dict:
    if form is None:
        form = ReminderForm(
            initial={
                "reminders_enabled": rx.reminders_enabled,
                "reminder_times": ", ".join(rx.reminder_times or []),
            },
            prescription=rx,
        )
    freq = frequencies.frequency_get(rx.frequency_code)
    return {
        "rx": rx,
        "form": form,
        "frequency": freq.display if freq else "",
        "default_times": frequencies.default_times(rx.frequency_code),
        "effective_times": rem.effective_times(rx),
        "saved": saved,
        "error": error,
    }


def _page(request, cards: list[dict], *, status: int = 200):
    from django.conf import settings

    patient = request.user.patient
    channels = [CHANNEL_LABELS[c] for c in preference_get(request.user).channels if c in CHANNEL_LABELS]
    context = {
        "patient": patient,
        "cards": cards,
        "channels": channels,
        "time_zone": settings.HOSPITAL_TIME_ZONE,
    }
    return render(request, "portal/reminders/page.html", context, status=status)


@require_GET
@role_required(Role.PATIENT, redirect_home=True)
def medication_reminders(request):
    """/me/medication-reminders/: one card per active prescription."""
    if getattr(request.user, "patient", None) is None:
        return render(request, "portal/reminders/page.html", {"patient": None})
    with transaction.atomic():
        rows = list(rem.reminder_prescriptions(request.user))
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=request.user.patient,
            object_type="pharmacy.MedicationRequest",
            channel="web",
            detail={"view": "medication_reminders", "prescriptions": [rx.pk for rx in rows]},
        )
    return _page(request, [_card(rx) for rx in rows])


@require_POST
@role_required(Role.PATIENT)
def medication_reminder_update(request, pk: int):
    """Save one prescription's reminder settings (see the module docstring)."""
    rx = rem.reminder_prescription_get(user=request.user, prescription_id=pk)
    form = ReminderForm(request.POST, prescription=rx)
    error = ""
    saved = False
    if form.is_valid():
        try:
            rx = rem.prescription_reminders_update(
                prescription=rx,
                by=request.user,
                reminders_enabled=form.cleaned_data["reminders_enabled"],
                reminder_times=form.cleaned_data["reminder_times"],
                request=request,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except Conflict as exc:
            error = exc.message
        else:
            saved = True
    if saved:
        form = None  # show the stored values, normalised
    card = _card(rx, form, saved=saved, error=error)
    if request.htmx:
        return render(request, "portal/reminders/_card.html", card)
    if saved:
        messages.success(request, f"Reminders saved for {rx.code_display}.")
        return redirect("portal:medication_reminders")
    cards = [
        card if other.pk == rx.pk else _card(other) for other in rem.reminder_prescriptions(request.user)
    ]
    return _page(request, cards, status=400)
