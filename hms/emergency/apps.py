from django.apps import AppConfig


class EmergencyConfig(AppConfig):
    name = "hms.emergency"
    verbose_name = "Emergency care and alerts"

    def ready(self):
        # ED time-target alerts: the beat's `messaging.reminders_due` calls the provider
        from hms.messaging.reminders import reminder_provider_register

        from .reminders import ed_target_alerts

        reminder_provider_register(ed_target_alerts)
