"""`manage.py cds_load`: a good file is loaded and used by the checker; a bad file loads nothing and
names every bad line; --replace retires the earlier rows; --skip-unknown skips rows of unknown drugs."""

import pytest
from django.core.management import CommandError, call_command

from hms.cds.checker import ProposedMedication, cds_check
from hms.cds.models import LoadedInteraction

pytestmark = pytest.mark.django_db
HEADER = "a,b,severity,effect,management,source\n"


def _file(tmp_path, text, name="kb.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _pair(patient, a, b):
    return cds_check(patient=patient, proposed=[ProposedMedication(a), ProposedMedication(b)])


def test_good_file_is_loaded_and_used(cds_world, tmp_path, capsys):
    patient = cds_world["patient"]
    assert _pair(patient, "308182", "313782") == []  # amoxicillin + acetaminophen: nothing bundled
    path = _file(
        tmp_path,
        HEADER
        + "amoxicillin,acetaminophen,minor,Test effect.,Test management.,Licensed KB 2026 row 1\n"
        + 'class:statins,"Grapefruit",moderate,"Effect, with a comma.",,Licensed KB 2026 row 2\n'.replace(
            '"Grapefruit"', "class:macrolides"
        ),
    )
    call_command("cds_load", "--interactions", path)
    assert "Loaded 2 interaction rows" in capsys.readouterr().out
    rows = list(LoadedInteraction.objects.order_by("line"))
    assert [(r.a, r.b, r.severity, r.line, r.active) for r in rows] == [
        ("amoxicillin", "acetaminophen", "minor", 2, True),
        ("class:statins", "class:macrolides", "moderate", 3, True),
    ]
    findings = _pair(patient, "308182", "313782")
    assert [(f.kind, f.severity, f.source) for f in findings] == [
        ("interaction", "minor", "Licensed KB 2026 row 1")
    ]
    assert any(f.source == "Licensed KB 2026 row 2" for f in _pair(patient, "259255", "308460"))


def test_bad_file_loads_nothing_and_names_the_lines(tmp_path):
    path = _file(
        tmp_path,
        HEADER
        + "amoxicillin,acetaminophen,minor,ok,,Source A\n"
        + "amoxicillin,warfarin,severe,Bad severity.,,Source B\n"
        + "amoxicillin,warfarin,major,No source.,,\n"
        + "unobtainium,warfarin,major,Unknown drug.,,Source C\n"
        + "class:nonsense,warfarin,major,Unknown class.,,Source D\n"
        + "amoxicillin,warfarin,major,Too many,,Source E,extra\n",
    )
    with pytest.raises(CommandError) as exc:
        call_command("cds_load", "--interactions", path)
    message = str(exc.value)
    assert "nothing loaded" in message
    for text in (
        "line 3: severity",
        "line 4: source",
        "line 5: a: unknown ingredient",
        "line 6: a: unknown class",
    ):
        assert text in message, text
    assert "line 7: too many columns" in message
    assert "line 2" not in message
    assert not LoadedInteraction.objects.exists()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a,b,severity\nx,y,major\n", "line 1: the header must be"),
        (HEADER, "no interaction rows"),
        ("", "line 1: the header must be"),
    ],
)
def test_bad_header_or_empty(tmp_path, text, error):
    with pytest.raises(CommandError, match=error):
        call_command("cds_load", "--interactions", _file(tmp_path, text))
    assert not LoadedInteraction.objects.exists()


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "amoxicillin,acetaminophen,minor,caf\xe9,,S\n").encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("cds_load", "--interactions", str(path))
    with pytest.raises(CommandError, match="no such file"):
        call_command("cds_load", "--interactions", str(tmp_path / "missing.csv"))


def test_replace_and_skip_unknown(tmp_path, capsys):
    first = _file(tmp_path, HEADER + "amoxicillin,acetaminophen,minor,One.,,S1\n", "one.csv")
    call_command("cds_load", "--interactions", first)
    second = _file(
        tmp_path,
        HEADER + "amoxicillin,ibuprofen,minor,Two.,,S2\n" + "unobtainium,warfarin,major,Unknown.,,S3\n",
        "two.csv",
    )
    call_command("cds_load", "--interactions", second, "--replace", "--skip-unknown")
    out = capsys.readouterr().out
    assert "skipped 1" in out and "retired 1" in out
    assert list(LoadedInteraction.objects.filter(active=True).values_list("b", flat=True)) == ["ibuprofen"]
    old = LoadedInteraction.objects.get(b="acetaminophen")
    assert old.active is False and old.replaced_at is not None  # kept, never deleted
