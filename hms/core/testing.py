"""Shared test helpers: factories for users of every role, practitioners, patients and encounters.

Used by every app's tests (`from hms.core.testing import ...`) and by `bench/`. They create real rows
through the real models; nothing of ours is mocked.
"""

import datetime as dt
import itertools

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from hms.accounts.models import User
from hms.accounts.roles import Role
from hms.clinical.models import Encounter, EncounterClass
from hms.patients.models import Patient
from hms.patients.mrn import mrn_allocate
from hms.staff.models import Practitioner, PractitionerRole

_seq = itertools.count(1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "pass-Word-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=str(extracted)))
        self.save()


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.LazyFunction(lambda: mrn_allocate(1)[0])
    family_name = factory.Faker("last_name")
    given_names = factory.Faker("first_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=1, maximum_age=95)
    gender = factory.Iterator(["female", "male"])
    phone = factory.Sequence(lambda n: f"555-01{n:05d}")


class PractitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practitioner

    family_name = factory.Faker("last_name")
    given_names = factory.Faker("first_name")
    role = PractitionerRole.DOCTOR


class EncounterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Encounter

    patient = factory.SubFactory(PatientFactory)
    encounter_class = EncounterClass.AMBULATORY
    period_start = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=3))
    status = "finished"


def make_user(role: str | Role, **kwargs) -> User:
    """A user in `role`; doctors and nurses also get a linked Practitioner; patients a linked Patient."""
    user = UserFactory(role=str(role), **kwargs)
    if role in (Role.DOCTOR, Role.NURSE):
        PractitionerFactory(
            user=user,
            family_name=user.last_name,
            given_names=user.first_name,
            role=PractitionerRole.DOCTOR if role == Role.DOCTOR else PractitionerRole.NURSE,
        )
    elif role == Role.PATIENT:
        PatientFactory(user=user, family_name=user.last_name, given_names=user.first_name)
    return User.objects.get(pk=user.pk)


def put_in_care(user: User, patient: Patient) -> Encounter:
    """Give `patient` an encounter with the clinician `user`, which puts them in that user's care."""
    return EncounterFactory(patient=patient, practitioner=user.practitioner)


def api_client_for(user: User | None) -> APIClient:
    """An APIClient sending `user`'s JWT access token (anonymous when `user` is None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def next_int() -> int:
    return next(_seq)
