"""User accounts in the Django admin, with each user's role (their role group)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "first_name",
        "last_name",
        "email",
        "role_display",
        "is_active",
        "is_staff",
        "last_login",
    )
    list_filter = ("groups", "is_active", "is_staff", "is_superuser")
    fieldsets = (
        *DjangoUserAdmin.fieldsets[:1],
        ("Personal info", {"fields": ("first_name", "last_name", "email", "phone")}),
        *DjangoUserAdmin.fieldsets[2:],
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role_display(self, obj):
        return obj.role_label or "-"

    def has_delete_permission(self, request, obj=None):
        # Accounts are deactivated (is_active off), never deleted: audit events and records refer to them.
        return False
