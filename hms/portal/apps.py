from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "hms.portal"
    label = "portal"
