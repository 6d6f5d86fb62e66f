"""Portal forms: patient search and front-desk registration. Thin: they parse, services decide."""

from django import forms

from hms.patients.models import AdministrativeGender


class PatientSearchForm(forms.Form):
    """`q`: part of a family or given name, an MRN, or a phone number (≤ 100 characters)."""

    q = forms.CharField(label="Search patients", max_length=100, required=False, strip=True)


class PatientRegisterForm(forms.Form):
    """The fields a receptionist fills to register a patient; `patient_create` validates them again."""

    given_names = forms.CharField(label="Given name(s)", max_length=150)
    family_name = forms.CharField(label="Family name", max_length=100)
    date_of_birth = forms.DateField(label="Date of birth", widget=forms.DateInput(attrs={"type": "date"}))
    gender = forms.ChoiceField(label="Sex (administrative gender)", choices=AdministrativeGender.choices)
    phone = forms.CharField(
        label="Phone",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    email = forms.EmailField(label="Email", required=False)
    address_line = forms.CharField(label="Address", max_length=200, required=False)
    city = forms.CharField(label="City", max_length=100, required=False)
    postal_code = forms.CharField(label="Postal code", max_length=20, required=False)
    national_id = forms.CharField(label="National identifier", max_length=64, required=False)
    force = forms.BooleanField(label="Register anyway: this is a different person", required=False)
    force_reason = forms.CharField(
        label="Reason for registering despite a probable duplicate", max_length=500, required=False
    )

    def clean(self):
        data = super().clean()
        if data.get("force") and not (data.get("force_reason") or "").strip():
            self.add_error("force_reason", "Give a reason to register a probable duplicate.")
        return data

    def patient_data(self) -> dict:
        """The cleaned fields `patient_create` takes (blank optional fields left out)."""
        skip = {"force", "force_reason"}
        return {k: v for k, v in self.cleaned_data.items() if k not in skip and v not in ("", None)}
