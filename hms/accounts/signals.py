"""Signal receivers of the accounts app.

- After every `migrate`, keep the role groups' permissions current (new models get their permissions).
- Audit logins, logouts and failed logins that go through Django's own auth views (the portal login
  page, the Django admin). The REST token views audit explicitly in `hms.accounts.services`, so
  requests under `/api/` are skipped here to avoid writing the event twice.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _roles_sync_after_migrate(sender, app_config=None, **kwargs):
    if app_config is not None and app_config.label == "accounts":
        from .roles import roles_sync

        roles_sync()


def _channel(request) -> str | None:
    """ "web" or "admin" for Django auth paths; None for API requests (audited by the API itself)."""
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return None
    return "admin" if path.startswith("/admin/") else "web"


@receiver(user_logged_in)
def _audit_login(sender, request=None, user=None, **kwargs):
    channel = _channel(request)
    if channel is None:
        return
    from hms.audit.services import audit_record

    audit_record(actor=user, action="login", request=request, obj=user, channel=channel)


@receiver(user_logged_out)
def _audit_logout(sender, request=None, user=None, **kwargs):
    channel = _channel(request)
    if channel is None:
        return
    from hms.audit.services import audit_record

    audit_record(actor=user, action="logout", request=request, obj=user, channel=channel)


@receiver(user_login_failed)
def _audit_login_failed(sender, credentials=None, request=None, **kwargs):
    channel = _channel(request)
    if channel is None:
        return
    from hms.audit.services import audit_record

    username = str((credentials or {}).get("username", ""))[:150]
    audit_record(
        actor=None,
        action="login_failed",
        outcome="failure",
        request=request,
        object_type="accounts.User",
        channel=channel,
        detail={"username": username},
    )
