from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "hms.billing"
    verbose_name = "Billing, payments and insurance"
