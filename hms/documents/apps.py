from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """Medical documents (FHIR R4 DocumentReference): uploads checked by content, private storage,
    audited downloads. Registers the `document` source of the patient timeline."""

    name = "hms.documents"
    label = "documents"
    verbose_name = "Medical documents"

    def ready(self):
        from hms.clinical.timeline import register_timeline_source

        from .selectors import documents_timeline

        register_timeline_source("document", documents_timeline)
