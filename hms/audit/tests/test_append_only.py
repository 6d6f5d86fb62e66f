import pytest
from django.db import DatabaseError, connection, transaction

from hms.audit.models import AuditEvent
from hms.audit.services import audit_record


@pytest.mark.django_db
def test_audit_rows_cannot_be_changed_or_deleted(admin_user):
    event = audit_record(actor=admin_user, action="login")
    event.action = "logout"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(action="logout")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "login"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_postgres_trigger_rejects_raw_update(admin_user):
    event = audit_record(actor=admin_user, action="login")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET action = 'logout' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "login"


@pytest.mark.django_db
def test_unknown_action_is_refused(admin_user):
    with pytest.raises(ValueError):
        audit_record(actor=admin_user, action="peek")
