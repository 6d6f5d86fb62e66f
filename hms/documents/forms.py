"""Portal forms of medical documents. The checks that matter (type by content, size, who may upload)
live in `hms.documents.services`; these forms only shape the input."""

from django import forms

from .models import DocumentKind
from .services import PATIENT_KINDS
from .validation import allowed_types_text, max_bytes

ACCEPT = "application/pdf,image/png,image/jpeg,application/dicom,.pdf,.png,.jpg,.jpeg,.dcm"


class DocumentUploadForm(forms.Form):
    """`file`, `kind`, `title`, `description`. `for_patient=True` offers only the kinds a patient may
    upload."""

    file = forms.FileField(label="File", allow_empty_file=True)
    kind = forms.ChoiceField(label="Kind of document", choices=DocumentKind.choices)
    title = forms.CharField(label="Title", max_length=200, required=False)
    description = forms.CharField(
        label="Description", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, for_patient: bool = False, **kwargs):
        kwargs.setdefault("auto_id", "doc-%s")  # unique ids beside the other forms of the encounter screen
        super().__init__(*args, **kwargs)
        if for_patient:
            self.fields["kind"].choices = [
                (k, label) for k, label in DocumentKind.choices if k in PATIENT_KINDS
            ]
            self.fields["kind"].initial = DocumentKind.SCAN
        self.fields["file"].widget.attrs["accept"] = ACCEPT
        self.fields["file"].help_text = (
            f"{allowed_types_text()}, up to {max_bytes() // (1024 * 1024)} MB. The type is checked from the "
            "file's content, not its name."
        )
        self.fields["title"].help_text = "Leave empty to use the file name."


class EnteredInErrorForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500)
