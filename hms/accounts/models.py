"""The hospital's user account: one `User` for staff and patients; the role is a group."""

from functools import cache, cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models

from .roles import Role


@cache
def _group_names_sql(vendor: str) -> str:
    """SELECT of the group names of one user (parameter: the user id); names from the models' metadata."""
    from django.contrib.auth.models import Group
    from django.db import connections, router

    q = connections[router.db_for_read(User)].ops.quote_name
    link = User.groups.through._meta
    group_id, user_id = q(link.get_field("group").column), q(link.get_field("user").column)
    name, pk = q(Group._meta.get_field("name").column), q(Group._meta.pk.column)
    return (
        f"SELECT g.{name} FROM {q(Group._meta.db_table)} g"  # noqa: S608 - quoted model names only
        f" JOIN {q(link.db_table)} ug ON ug.{group_id} = g.{pk} WHERE ug.{user_id} = %s"
    )


def _group_names(user_id: int) -> set[str]:
    """The names of the groups of user `user_id`: `user.groups.all()` as one plain SQL statement.

    Every API request reads the caller's role; through the ORM this one small query cost about 0.3 ms of
    CPU, more than checking the JWT (docs/performance.md, booking).
    """
    from django.db import connections, router

    connection = connections[router.db_for_read(User)]
    with connection.cursor() as cursor:
        cursor.execute(_group_names_sql(connection.vendor), [user_id])
        return {row[0] for row in cursor.fetchall()}


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
        prefetched = getattr(self, "_prefetched_objects_cache", {}).get("groups")
        if prefetched is not None:  # e.g. the admin's list: prefetch_related("groups")
            names = {g.name for g in prefetched}
        else:
            names = _group_names(self.pk) if self.pk is not None else set()
        for role in Role:
            if role.value in names:
                return role.value
        if self.is_superuser:
            return Role.ADMIN.value
        return None

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""
