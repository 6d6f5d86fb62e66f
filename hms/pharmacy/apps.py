from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "hms.pharmacy"
    label = "pharmacy"

    def ready(self):
        # medication reminders and refill alerts: the beat's `messaging.reminders_due` calls the provider
        from hms.messaging.reminders import reminder_provider_register

        from .reminders import medication_reminders

        reminder_provider_register(medication_reminders)
