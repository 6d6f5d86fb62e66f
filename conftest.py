"""Project-wide pytest fixtures. Role fixtures build real users, practitioners and patients."""

import pytest

from hms.accounts.roles import Role
from hms.core.browser_testing import asgi_server, browser  # noqa: F401  (shared browser-test fixtures)
from hms.core.testing import api_client_for, make_user


@pytest.fixture
def user_of_role(db):
    """Factory fixture: `user_of_role("doctor")` -> a saved User in that role."""
    return make_user


@pytest.fixture
def api_client_of(db):
    return api_client_for


@pytest.fixture
def doctor(db):
    return make_user(Role.DOCTOR)


@pytest.fixture
def nurse(db):
    return make_user(Role.NURSE)


@pytest.fixture
def receptionist(db):
    return make_user(Role.RECEPTIONIST)


@pytest.fixture
def admin_user(db):
    return make_user(Role.ADMIN)


@pytest.fixture
def patient_user(db):
    return make_user(Role.PATIENT)
