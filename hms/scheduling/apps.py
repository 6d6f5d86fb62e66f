from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "hms.scheduling"
    label = "scheduling"

    def ready(self):
        # The beat's `messaging.reminders_due` calls every registered provider (see hms.messaging.reminders).
        from hms.messaging.reminders import reminder_provider_register

        from .reminders import appointment_reminders
        from .waitlist import waitlist_sweep

        reminder_provider_register(appointment_reminders)
        reminder_provider_register(waitlist_sweep)
