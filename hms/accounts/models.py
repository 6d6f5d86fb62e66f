"""The hospital's user account: one `User` for staff and patients; the role is a group."""

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models

from .roles import Role


class User(AbstractUser):
    """A person who logs in. Staff link to a `staff.Practitioner`; a patient links to one `patients.Patient`.

    `role` is read from the user's group (one of `Role`); a superuser with no group counts as admin.
    """

    email = models.EmailField("email address", blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @cached_property
    def role(self) -> str | None:
        names = {g.name for g in self.groups.all()}
        for role in Role:
            if role.value in names:
                return role.value
        if self.is_superuser:
            return Role.ADMIN.value
        return None

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""
