"""`User.role`: read from the user's role group in one plain query (or from prefetched groups), as before:
the first role in `Role` order, a superuser without a role group counts as admin; a change applies to the
next request."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIRequestFactory
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import AccessToken

from hms.accounts.models import User
from hms.accounts.roles import Role
from hms.core.testing import api_client_for, make_user

pytestmark = pytest.mark.django_db


def authenticate(user):
    request = APIRequestFactory().get("/api/x/", HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return JWTAuthentication().authenticate(request)[0]


@pytest.mark.parametrize("role", list(Role))
def test_every_role_costs_one_query_after_the_user(role):
    user = make_user(role)
    with CaptureQueriesContext(connection) as queries:
        found = authenticate(user)
        assert found.role == role.value
        assert found.role == role.value  # cached on the instance
    assert len(queries) == 2  # the user, then its groups


def test_prefetched_groups_are_used():
    make_user(Role.NURSE)
    users = list(User.objects.prefetch_related("groups"))
    with CaptureQueriesContext(connection) as queries:
        assert [u.role for u in users] == [Role.NURSE]
    assert len(queries) == 0


def test_role_follows_the_enum_order_and_the_superuser_fallback():
    user = make_user(Role.PATIENT)
    user.groups.add(Group.objects.get(name=Role.NURSE))  # two role groups: the Role order decides
    assert User.objects.get(pk=user.pk).role == Role.NURSE
    user.groups.add(Group.objects.create(name="not-a-role"))
    assert User.objects.get(pk=user.pk).role == Role.NURSE
    root = User.objects.create_superuser("root-role-test", password="x-Password-1")
    assert User.objects.get(pk=root.pk).role == Role.ADMIN
    plain = User.objects.create_user("nobody-role-test", password="x-Password-1")
    assert User.objects.get(pk=plain.pk).role is None
    assert User(username="unsaved").role is None


def test_a_changed_role_applies_to_the_next_request():
    user = make_user(Role.RECEPTIONIST)
    client = api_client_for(user)
    body = {"family_name": "Role", "given_names": "Test", "date_of_birth": "1970-01-01", "gender": "male"}
    assert client.post("/api/patients/", body, format="json").status_code == 201
    user.groups.set([Group.objects.get(name=Role.BILLING)])
    assert client.post("/api/patients/", body, format="json").status_code == 403
