from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "hms.messaging"
    label = "messaging"
