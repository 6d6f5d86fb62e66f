from django.apps import AppConfig


class FrontdeskConfig(AppConfig):
    name = "hms.frontdesk"
    label = "frontdesk"
