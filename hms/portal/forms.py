"""Portal forms: patient search and front-desk registration. Thin: they parse, services decide."""

from django import forms

from hms.patients.models import AdministrativeGender

from .booking import today


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


# ---------------------------------------------------------------- appointments

WEEKDAYS = (
    (1, "Monday"),
    (2, "Tuesday"),
    (3, "Wednesday"),
    (4, "Thursday"),
    (5, "Friday"),
    (6, "Saturday"),
    (7, "Sunday"),
)


class BookForm(forms.Form):
    """Confirm a booking: the slot (`practitioner` pk, `service` code, `start` ISO 8601 with offset) and the
    reason; `channel` only for staff (phone or walk-in)."""

    practitioner = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    service = forms.CharField(widget=forms.HiddenInput, max_length=64)
    start = forms.DateTimeField(widget=forms.HiddenInput, input_formats=["%Y-%m-%dT%H:%M:%S%z"])
    reason = forms.CharField(
        label="Reason for the visit",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Symptoms or what you would like to discuss"}),
    )
    channel = forms.ChoiceField(
        label="Booked by", choices=(("phone", "Phone"), ("walk-in", "Walk-in (at the desk)")), required=False
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Why are you cancelling?", max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class RescheduleForm(forms.Form):
    start = forms.DateTimeField(input_formats=["%Y-%m-%dT%H:%M:%S%z"])


def _parse_ranges(text: str):
    """ "09:00-12:00, 13:00-17:00" -> [(time, time), ...]; raises forms.ValidationError."""
    import datetime as dt

    out = []
    for part in [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]:
        try:
            start, end = (dt.time.fromisoformat(x.strip()) for x in part.split("-"))
        except ValueError:
            raise forms.ValidationError(f"“{part}” is not a range like 09:00-12:00.") from None
        if start >= end:
            raise forms.ValidationError(f"“{part}”: the end must be after the start.")
        out.append((start, end))
    return out


class WorkingHoursForm(forms.Form):
    """One text field per weekday ("09:00-12:00, 13:00-17:00"; blank = closed) and the buffer."""

    buffer_minutes = forms.IntegerField(label="Buffer between visits (minutes)", min_value=0, max_value=120)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for number, name in WEEKDAYS:
            self.fields[f"day_{number}"] = forms.CharField(
                label=name,
                required=False,
                max_length=200,
                widget=forms.TextInput(attrs={"placeholder": "closed", "inputmode": "numeric"}),
            )

    def day_fields(self):
        return [self[f"day_{number}"] for number, _ in WEEKDAYS]

    def clean(self):
        data = super().clean()
        hours = []
        for number, _name in WEEKDAYS:
            try:
                hours += [(number, s, e) for s, e in _parse_ranges(data.get(f"day_{number}") or "")]
            except forms.ValidationError as exc:
                self.add_error(f"day_{number}", exc)
        data["hours"] = hours
        return data

    @staticmethod
    def initial_for(schedule) -> dict:
        initial = {"buffer_minutes": schedule.buffer_minutes}
        for number, _ in WEEKDAYS:
            ranges = [wh for wh in schedule.working_hours.all() if wh.weekday == number]
            initial[f"day_{number}"] = ", ".join(
                f"{wh.start_time:%H:%M}-{wh.end_time:%H:%M}" for wh in ranges
            )
        return initial


class ScheduleExceptionForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind", choices=(("leave", "Leave"), ("holiday", "Holiday"), ("extra", "Extra clinic"))
    )
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label="Extra clinic from", required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    end_time = forms.TimeField(
        label="Extra clinic until", required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    reason = forms.CharField(label="Note", max_length=200, required=False)

    def clean_date_from(self):
        """Exceptions start today or later: a leave (or any exception) in the past is refused."""
        value = self.cleaned_data["date_from"]
        if value < today():
            raise forms.ValidationError(f"{value:%Y-%m-%d} is in the past; exceptions start today or later.")
        return value
