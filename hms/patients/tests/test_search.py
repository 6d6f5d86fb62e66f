"""The shared search rule (`hms.patients.selectors.patient_search`): order, paging and scope."""

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user, put_in_care
from hms.patients.selectors import PatientNameSearch, patient_search


@pytest.fixture
def named(db):
    """Family-name matches of "mar" (Marsh, Martin x2), given-only matches (Mary Adams, Mark Zed,
    Maria Martens is a family match), and non-matches."""
    rows = [
        ("Martin", "Zoe"),
        ("Marsh", "Bob"),
        ("Martin", "Anna"),
        ("Adams", "Mary"),
        ("Zed", "Mark"),
        ("Martens", "Maria"),
        ("Smith", "John"),
        ("Omar", "Ali"),
    ]
    return {f"{f},{g}": PatientFactory(family_name=f, given_names=g) for f, g in rows}


def _names(rows):
    return [f"{p.family_name},{p.given_names}" for p in rows]


def test_one_word_lists_family_matches_then_given_matches(named):
    receptionist = make_user(Role.RECEPTIONIST)
    result = patient_search(receptionist, "mar")
    assert isinstance(result, PatientNameSearch)
    assert _names(result[0:10]) == [
        "Marsh,Bob",
        "Martens,Maria",
        "Martin,Anna",
        "Martin,Zoe",  # family prefix, by family then given
        "Zed,Mark",  # given prefix only, by given then family: MARK < MARY
        "Adams,Mary",
    ]
    assert result.capped_count(1000) == 6


@pytest.mark.parametrize(("start", "stop"), [(0, 2), (2, 5), (3, 4), (4, 6), (5, 9), (6, 9)])
def test_pages_cross_the_boundary_without_gaps_or_repeats(named, start, stop):
    receptionist = make_user(Role.RECEPTIONIST)
    everything = _names(patient_search(receptionist, "MAR")[0:100])
    assert _names(patient_search(receptionist, "MAR")[start:stop]) == everything[start:stop]


def test_capped_count_stops_at_the_cap(named):
    receptionist = make_user(Role.RECEPTIONIST)
    assert patient_search(receptionist, "mar").capped_count(3) == 4  # cap + 1 means "more than cap"


def test_search_stays_inside_the_doctors_scope(named):
    doctor = make_user(Role.DOCTOR)
    put_in_care(doctor, named["Adams,Mary"])
    assert _names(patient_search(doctor, "mar")[0:10]) == ["Adams,Mary"]
    assert _names(patient_search(doctor, "smi")[0:10]) == []


def test_several_words_narrow_and_digits_find_the_mrn(named):
    receptionist = make_user(Role.RECEPTIONIST)
    assert _names(patient_search(receptionist, "martin an")[0:10]) == ["Martin,Anna"]
    target = named["Omar,Ali"]
    assert _names(patient_search(receptionist, target.mrn)[0:10]) == ["Omar,Ali"]
    assert list(patient_search(receptionist, "   ")[0:10]) == []
