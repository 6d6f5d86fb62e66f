"""StrictSerializer: a non-string where a string belongs is refused, and reported together with every other
bad field of the same body; object-level validation waits until every field is valid."""

from rest_framework import serializers

from hms.core.api_base import StrictSerializer


class Sample(StrictSerializer):
    name = serializers.CharField(max_length=10)
    note = serializers.CharField(required=False)
    age = serializers.IntegerField(min_value=0)
    code = serializers.CharField(required=False)

    validate_calls = 0

    def validate(self, attrs):
        type(self).validate_calls += 1
        if attrs.get("note") == "boom":
            raise serializers.ValidationError({"note": "object-level"})
        return attrs


def errors_of(data):
    s = Sample(data=data)
    assert not s.is_valid()
    return s.errors


def test_valid_data_passes_unchanged():
    s = Sample(data={"name": "Ann", "age": 3})
    assert s.is_valid(), s.errors
    assert s.validated_data == {"name": "Ann", "age": 3}


def test_all_bad_fields_at_once_in_field_order():
    errors = errors_of({"name": 5, "age": -1, "code": ["x"]})
    assert list(errors) == ["name", "age", "code"]
    assert errors["name"] == ["Not a valid string."]
    assert errors["code"] == ["Not a valid string."]
    assert "greater than or equal to 0" in str(errors["age"][0])


def test_a_required_field_of_the_wrong_type_is_not_also_missing():
    errors = errors_of({"name": True})
    assert errors == {"name": ["Not a valid string."], "age": ["This field is required."]}


def test_object_validation_waits_for_valid_fields():
    Sample.validate_calls = 0
    errors = errors_of({"name": 1, "age": 2, "note": "boom"})
    assert errors == {"name": ["Not a valid string."]}
    assert Sample.validate_calls == 0
    assert errors_of({"name": "a", "age": 2, "note": "boom"}) == {"note": ["object-level"]}
    assert Sample.validate_calls == 1


def test_other_errors_alone_are_unchanged():
    assert errors_of({"name": "much too long a name", "age": 1}) == {
        "name": ["Ensure this field has no more than 10 characters."]
    }
