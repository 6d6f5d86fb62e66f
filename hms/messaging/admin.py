"""Messaging in the Django admin: preferences are editable; deliveries and notifications are a read-only
record (reads are audited like any PHI read: a message may name a patient's appointment)."""

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from .models import Delivery, Notification, NotificationPreference


class _ReadOnlyAdmin(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _RecipientPatientMixin(AuditedPHIAdminMixin):
    """The audited patient is the recipient's own Patient record, when the recipient is a patient."""

    def _patient_of(self, obj):
        return getattr(obj.recipient, "patient", None)

    def _patient_id_of(self, obj):
        patient = getattr(obj.recipient, "patient", None)
        return patient.pk if patient else None


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "in_app", "email", "sms", "updated_at")
    list_filter = ("in_app", "email", "sms")
    search_fields = ("=user__username", "user__email")
    raw_id_fields = ("user",)


@admin.register(Delivery)
class DeliveryAdmin(_RecipientPatientMixin, _ReadOnlyAdmin):
    list_display = (
        "created_at",
        "event",
        "channel",
        "recipient",
        "to_address",
        "status",
        "attempts",
        "sent_at",
    )
    list_filter = ("status", "channel", "event")
    search_fields = ("=dedupe_key", "=recipient__username", "=to_address")
    list_select_related = ("recipient__patient",)
    show_full_result_count = False
    readonly_fields = [f.name for f in Delivery._meta.fields]


@admin.register(Notification)
class NotificationAdmin(_RecipientPatientMixin, _ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "event", "subject", "read_at")
    list_filter = ("event",)
    search_fields = ("=recipient__username",)
    list_select_related = ("recipient__patient",)
    show_full_result_count = False
    readonly_fields = [f.name for f in Notification._meta.fields]
