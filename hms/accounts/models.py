"""The hospital's user account: one `User` for staff and patients; the role is a group."""

from functools import cached_property

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Case, OuterRef, Subquery, Value, When

from .roles import Role


class UserQuerySet(models.QuerySet):
    def with_role(self) -> "UserQuerySet":
        """Annotate `role_group`: the user's role group name (by `Role` precedence), in the same query.

        Authentication loads users this way so that reading `user.role` costs no second query.
        """
        from django.contrib.auth.models import Group

        precedence = Case(*[When(name=r.value, then=Value(i)) for i, r in enumerate(Role)], default=Value(99))
        first = Group.objects.filter(user=OuterRef("pk"), name__in=Role.values).order_by(precedence)
        return self.annotate(role_group=Subquery(first.values("name")[:1]))


class HospitalUserManager(UserManager.from_queryset(UserQuerySet)):
    pass


class User(AbstractUser):
    """A person who logs in. Staff link to a `staff.Practitioner`; a patient links to one `patients.Patient`.

    `role` is read from the user's group (one of `Role`); a superuser with no group counts as admin.
    """

    email = models.EmailField("email address", blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True)

    objects = HospitalUserManager()

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @cached_property
    def role(self) -> str | None:
        if "role_group" in self.__dict__:  # loaded through `User.objects.with_role()`
            name = self.__dict__["role_group"]
        else:
            names = {g.name for g in self.groups.all()}
            name = next((r.value for r in Role if r.value in names), None)
        if name:
            return name
        if self.is_superuser:
            return Role.ADMIN.value
        return None

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""
