from django.apps import AppConfig


class LabConfig(AppConfig):
    name = "hms.lab"
    label = "lab"

    def ready(self):
        """Register the lab's sources of the patient timeline: `order` and `result`."""
        from hms.clinical.timeline import register_timeline_source

        from .selectors import orders_timeline, results_timeline

        register_timeline_source("order", orders_timeline)
        register_timeline_source("result", results_timeline)
