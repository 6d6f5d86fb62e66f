import pytest

from hms.patients.mrn import luhn_check_digit, mrn_allocate, mrn_is_valid


def test_luhn_matches_published_example():
    """ISO/IEC 7812 worked example: 7992739871 has check digit 3."""
    assert luhn_check_digit("7992739871") == 3


def test_every_single_digit_typo_is_caught():
    mrn = "100000017"
    for i in range(len(mrn)):
        for d in "0123456789":
            if d != mrn[i]:
                assert not mrn_is_valid(mrn[:i] + d + mrn[i + 1 :])


@pytest.mark.django_db(transaction=True)
def test_allocation_is_monotonic_and_never_reused():
    first = mrn_allocate(5)
    second = mrn_allocate(2)
    assert len(set(first + second)) == 7
    assert all(mrn_is_valid(m) for m in first + second)
    assert int(second[0][:-1]) == int(first[-1][:-1]) + 1


def test_rejects_non_digits():
    with pytest.raises(ValueError):
        luhn_check_digit("12a")
