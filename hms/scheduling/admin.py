"""Scheduling in the Django admin. Schedules, resources and service types are edited here; appointments
are PHI, so they are view-only and audited (writes go through `hms.scheduling.services`)."""

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from .models import (
    Appointment,
    AppointmentChange,
    BookableResource,
    Schedule,
    ScheduleException,
    ServiceType,
    WaitlistEntry,
    WorkingHours,
)


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class ScheduleExceptionInline(admin.TabularInline):
    model = ScheduleException
    extra = 0


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ("id", "practitioner", "resource", "time_zone", "buffer_minutes", "active")
    list_filter = ("active",)
    raw_id_fields = ("practitioner", "resource")
    inlines = (WorkingHoursInline, ScheduleExceptionInline)


@admin.register(BookableResource)
class BookableResourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "active")
    list_filter = ("kind", "active")
    search_fields = ("name",)


@admin.register(ServiceType)
class ServiceTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "display", "default_minutes", "active")
    search_fields = ("code", "display")


class AppointmentChangeInline(admin.TabularInline):
    model = AppointmentChange
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in AppointmentChange._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Appointment)
class AppointmentAdmin(AuditedPHIAdminMixin, admin.ModelAdmin):
    list_display = ("id", "start", "end", "status", "patient", "practitioner", "service_type", "channel")
    list_filter = ("status", "channel")
    list_select_related = ("patient", "practitioner", "service_type")
    search_fields = ("=patient__mrn",)
    search_help_text = "Patient MRN (exact)."
    date_hierarchy = "start"
    raw_id_fields = ("patient", "practitioner", "resource")
    inlines = (AppointmentChangeInline,)
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(AuditedPHIAdminMixin, admin.ModelAdmin):
    """View-only: waitlist entries change through `hms.scheduling.waitlist` (offers, accept, expiry)."""

    list_display = (
        "id",
        "patient",
        "practitioner",
        "specialty",
        "date_from",
        "date_to",
        "status",
        "offered_start",
    )
    list_filter = ("status",)
    list_select_related = ("patient", "practitioner", "specialty")
    search_fields = ("=patient__mrn",)
    raw_id_fields = ("patient", "practitioner", "offered_practitioner")
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
