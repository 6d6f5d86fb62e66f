"""Admin helpers for models holding PHI: reads in the Django admin are audited like API reads.

`AuditedPHIAdminMixin` writes one AuditEvent ("search", channel "admin") per change-list page, with
the patients shown, and one ("read") per change/view page of a record. `patient_path` names the
attribute leading from a row to its Patient ("" when the row is the Patient).
"""

from hms.audit.services import audit_record


class AuditedPHIAdminMixin:
    patient_path = "patient"

    def _patient_of(self, obj):
        return obj if not self.patient_path else getattr(obj, self.patient_path, None)

    def _patient_id_of(self, obj):
        return obj.pk if not self.patient_path else getattr(obj, f"{self.patient_path}_id", None)

    def _object_type(self) -> str:
        return f"{self.model._meta.app_label}.{self.model.__name__}"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        changelist = context.get("cl")
        if changelist is not None and request.method == "GET":
            ids = sorted({pid for pid in (self._patient_id_of(o) for o in changelist.result_list) if pid})
            audit_record(
                action="search",
                request=request,
                patients=ids,
                object_type=self._object_type(),
                channel="admin",
                detail={"query": {k: v[:100] for k, v in request.GET.items()}},
            )
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        original = context.get("original")
        if original is not None and original.pk is not None and request.method == "GET":
            audit_record(
                action="read",
                request=request,
                patient=self._patient_of(original),
                obj=original,
                channel="admin",
            )
        return response
