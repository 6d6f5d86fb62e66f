"""Codes, duty and broadcasts in the Django admin.

`CodeType` (not PHI) is editable: administrators manage each code's response team here (`team`, a
filtered multi-select of active staff). Activations, alerts, duty rows and broadcasts are the log for
review: view-only (written by `hms.emergency.codes` only; never hard-deleted).
"""

from django.contrib import admin

from hms.accounts.models import User
from hms.accounts.roles import STAFF_ROLES

from .models import Broadcast, CodeActivation, CodeAlert, CodeType, OnDuty


class ViewOnlyAdmin(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CodeType)
class CodeTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "colour", "active", "team_size")
    list_filter = ("active",)
    search_fields = ("name", "key")
    filter_horizontal = ("team",)
    actions = None

    @admin.display(description="Team")
    def team_size(self, obj) -> int:
        return obj.team.count()

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = User.objects.filter(
                is_active=True, groups__name__in=[str(r) for r in STAFF_ROLES]
            ).distinct()
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: activations refer to it


class CodeAlertInline(admin.TabularInline):
    model = CodeAlert
    fields = ("recipient", "sent_at", "acknowledged_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CodeActivation)
class CodeActivationAdmin(ViewOnlyAdmin):
    list_display = ("id", "code_type", "location_text", "activated_by", "activated_at", "closed_at")
    list_filter = ("code_type",)
    date_hierarchy = "activated_at"
    inlines = [CodeAlertInline]


@admin.register(CodeAlert)
class CodeAlertAdmin(ViewOnlyAdmin):
    list_display = ("id", "activation", "recipient", "sent_at", "acknowledged_at")
    raw_id_fields = ("activation", "recipient")


@admin.register(OnDuty)
class OnDutyAdmin(ViewOnlyAdmin):
    list_display = ("user", "since")


@admin.register(Broadcast)
class BroadcastAdmin(ViewOnlyAdmin):
    list_display = ("title", "sender", "roles", "urgent", "created_at")
    list_filter = ("urgent",)
