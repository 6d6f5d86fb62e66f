from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "hms.clinical"
    label = "clinical"

    def ready(self):
        """Register the clinical sources of the patient timeline (`hms.clinical.timeline`); the lab and
        documents apps register theirs (`order`, `result`, `document`) in their own `ready()`."""
        from .daily_reports import TIMELINE_LIMIT, timeline_daily_reports
        from .selectors import CLINICAL_TIMELINE_SOURCES, limited_source
        from .timeline import register_timeline_source

        for kind, source in CLINICAL_TIMELINE_SOURCES.items():
            register_timeline_source(kind, source)
        register_timeline_source("daily-report", limited_source(timeline_daily_reports, TIMELINE_LIMIT))
