from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "hms.billing"
    verbose_name = "Billing, payments and insurance"

    def ready(self):
        from hms.messaging.reminders import reminder_provider_register

        from .charges import bed_days_provider

        # Bed-days of ongoing stays (midnight census), idempotent: see hms.billing.charges.
        reminder_provider_register(bed_days_provider)
