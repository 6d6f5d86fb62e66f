"""The admin shows deliveries read-only."""

import pytest
from django.test import Client

from hms.core.testing import UserFactory
from hms.messaging import services
from hms.messaging.models import Delivery


@pytest.mark.django_db
def test_delivery_admin_is_read_only(patient_user):
    services.notification_send(recipient=patient_user, event="lab.ready", context={}, dedupe_key="k")
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    delivery = Delivery.objects.first()
    assert client.get("/admin/messaging/delivery/").status_code == 200
    assert client.get(f"/admin/messaging/delivery/{delivery.pk}/change/").status_code == 200
    assert client.get("/admin/messaging/delivery/add/").status_code == 403
    assert client.post(f"/admin/messaging/delivery/{delivery.pk}/delete/").status_code == 403
    assert client.get("/admin/messaging/notification/").status_code == 200
