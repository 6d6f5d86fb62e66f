"""Portal pages of hospital codes, duty and admin broadcasts (rules in `hms.emergency.codes`).

- `portal:code_activate` `/codes/activate/`: choose a code, say where, activate (doctors, nurses,
  admins); then the activation page.
- `portal:code_activation` `/codes/<pk>/`: the activation: who was alerted, who acknowledged and when,
  refreshed live (`portal:code_activation_alerts`, an htmx fragment re-read on each push); close it.
- `portal:code_close` `/codes/<pk>/close/` (POST).
- `portal:code_log` `/codes/log/`: the review log (admins), with times and the response time of each
  activation; `?format=csv` downloads it (audited as an export).
- `portal:my_alerts` `/alerts/mine/`: fragment of the signed-in user's open code alerts (the banners);
  every staff page re-reads it on (re)connect of the alert socket, so nothing is missed.
- `portal:alert_acknowledge` `/alerts/<pk>/acknowledge/` (POST): acknowledge one of my alerts; htmx
  answers the refreshed fragment, a plain form goes back.
- `portal:duty_toggle` `/duty/` (POST `on_duty`=1|0): go on or off duty (the toggle in the top bar).
- `portal:broadcast` `/broadcasts/new/`: administrators send a broadcast to some staff roles or all.

Codes and broadcasts carry no patient data; the log's reads are audited all the same (review trail).
"""

import csv
import io

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hms.accounts.roles import STAFF_ROLES, Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict
from hms.emergency import codes

from .access import role_required

STAFF = tuple(sorted(str(r) for r in STAFF_ROLES))
ACTIVATE = tuple(sorted(codes.ACTIVATE_ROLES))
LOG_LIMIT = 500


def _errors_of(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


class ActivateForm(forms.Form):
    code_type = forms.ModelChoiceField(
        label="Code", queryset=codes.code_types_active(), empty_label="Choose a code…"
    )
    location_text = forms.CharField(
        label="Location (building, ward, room or bed)",
        max_length=200,
        help_text="Where responders must go. No patient names or identifiers.",
    )
    note = forms.CharField(label="Note (optional)", required=False, max_length=500)


@role_required(*ACTIVATE)
@require_http_methods(["GET", "POST"])
def code_activate(request):
    form = ActivateForm(request.POST or None, initial={"code_type": request.GET.get("code")})
    errors: list[str] = []
    if request.method == "POST":
        if form.is_valid():
            try:
                activation = codes.code_activate(**form.cleaned_data, by=request.user, request=request)
            except ValidationError as exc:
                errors = _errors_of(exc)
            else:
                return redirect("portal:code_activation", pk=activation.pk)
        else:
            errors = [m for msgs in form.errors.values() for m in msgs]
    status = 400 if errors else 200
    return render(request, "portal/alerts/activate.html", {"form": form, "errors": errors}, status=status)


def _activation_context(request, pk: int) -> dict:
    with transaction.atomic():
        activation = codes.activation_get(request.user, pk)
        alerts = list(codes.alerts_of(activation))
        audit_record(action=AuditAction.READ, request=request, obj=activation, channel="web")
    user = request.user
    can_close = activation.closed_at is None and (
        user.pk == activation.activated_by_id
        or user.role == Role.ADMIN
        or activation.code_type.team.filter(pk=user.pk).exists()
    )
    return {
        "activation": activation,
        "alerts": alerts,
        "acknowledged": sum(1 for a in alerts if a.acknowledged_at),
        "can_close": can_close,
        "my_alert": next((a for a in alerts if a.recipient_id == user.pk), None),
    }


@role_required(*STAFF)
@require_GET
def code_activation(request, pk: int):
    return render(request, "portal/alerts/activation.html", _activation_context(request, pk))


@role_required(*STAFF)
@require_GET
def code_activation_alerts(request, pk: int):
    return render(request, "portal/alerts/_activation_alerts.html", _activation_context(request, pk))


@role_required(*STAFF)
@require_POST
def code_close(request, pk: int):
    activation = codes.activation_get(request.user, pk)
    try:
        codes.code_close(activation=activation, by=request.user, request=request)
    except Conflict as exc:
        messages.error(request, exc.message)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{activation.code_type.name} closed.")
    return redirect("portal:code_activation", pk=pk)


def _log_rows(activations) -> list[dict]:
    rows = []
    for a in activations:
        alerts = list(a.alerts.all())
        acks = [x.acknowledged_at for x in alerts if x.acknowledged_at]
        first_ack = min(acks) if acks else None
        rows.append(
            {
                "activation": a,
                "alerted": len(alerts),
                "acknowledged": len(acks),
                "first_ack": first_ack,
                "first_ack_seconds": int((first_ack - a.activated_at).total_seconds()) if first_ack else None,
            }
        )
    return rows


@role_required(Role.ADMIN)
@require_GET
def code_log(request):
    """The review log: the last 500 activations, newest first; `?format=csv` for a download."""
    as_csv = request.GET.get("format") == "csv"
    with transaction.atomic():
        activations = codes.activations_visible(request.user).prefetch_related("alerts")[:LOG_LIMIT]
        rows = _log_rows(activations)
        audit_record(
            action=AuditAction.EXPORT if as_csv else AuditAction.SEARCH,
            request=request,
            object_type="emergency.CodeActivation",
            channel="web",
            detail={"view": "code_log", "rows": len(rows)},
        )
    if as_csv:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "id",
                "code",
                "location",
                "note",
                "activated_by",
                "activated_at_utc",
                "alerted",
                "acknowledged",
                "first_ack_utc",
                "first_ack_seconds",
                "closed_at_utc",
                "closed_by",
            ]
        )
        for r in rows:
            a = r["activation"]
            writer.writerow(
                [
                    a.pk,
                    a.code_type.name,
                    a.location_text,
                    a.note,
                    a.activated_by.username,
                    a.activated_at.isoformat(),
                    r["alerted"],
                    r["acknowledged"],
                    r["first_ack"].isoformat() if r["first_ack"] else "",
                    "" if r["first_ack_seconds"] is None else r["first_ack_seconds"],
                    a.closed_at.isoformat() if a.closed_at else "",
                    a.closed_by.username if a.closed_by else "",
                ]
            )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="code-log-{stamp}.csv"'
        return response
    return render(request, "portal/alerts/log.html", {"rows": rows, "limit": LOG_LIMIT})


@role_required(*STAFF)
@require_GET
def my_alerts(request):
    """The signed-in user's open code alerts as banners (fragment)."""
    return render(
        request, "portal/alerts/_my_alerts.html", {"open_alerts": list(codes.alerts_open_for(request.user))}
    )


@role_required(*STAFF)
@require_POST
def alert_acknowledge(request, pk: int):
    alert = codes.alert_get(request.user, pk)
    error = ""
    try:
        codes.code_acknowledge(alert=alert, by=request.user, request=request)
    except Conflict as exc:
        error = exc.message
    if request.htmx:
        context = {"open_alerts": list(codes.alerts_open_for(request.user)), "error": error}
        return render(request, "portal/alerts/_my_alerts.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{alert.activation.code_type.name} acknowledged.")
    return redirect("portal:code_activation", pk=alert.activation_id)


@role_required(*STAFF)
@require_POST
def duty_toggle(request):
    if request.POST.get("on_duty") == "1":
        codes.duty_start(by=request.user, request=request)
        messages.success(request, "You are on duty: code alerts of your teams reach you.")
    else:
        codes.duty_end(by=request.user, request=request)
        messages.info(request, "You are off duty: code alerts no longer reach you.")
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("portal:home")
    return redirect(back)


class BroadcastForm(forms.Form):
    title = forms.CharField(label="Title", max_length=120)
    body = forms.CharField(label="Message", max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
    roles = forms.MultipleChoiceField(
        label="To (none ticked = all staff)",
        required=False,
        choices=[(str(r), r.label) for r in Role if str(r) in codes.STAFF],
        widget=forms.CheckboxSelectMultiple,
    )
    urgent = forms.BooleanField(label="Urgent (sound and red banner)", required=False)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def broadcast(request):
    form = BroadcastForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST":
        if form.is_valid():
            try:
                sent = codes.broadcast_send(**form.cleaned_data, by=request.user, request=request)
            except ValidationError as exc:
                errors = _errors_of(exc)
            else:
                messages.success(request, f"Broadcast “{sent.title}” sent.")
                return redirect("portal:broadcast")
        else:
            errors = [m for msgs in form.errors.values() for m in msgs]
    recent = list(codes.broadcasts_for(request.user)[:20])
    return render(
        request,
        "portal/alerts/broadcast.html",
        {"form": form, "errors": errors, "recent": recent},
        status=400 if errors else 200,
    )
