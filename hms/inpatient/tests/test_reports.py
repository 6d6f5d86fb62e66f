"""Inpatient and ED reports on known data: occupancy by ward and day, length of stay, admissions and
discharges per day, door-to-doctor times by ESI level; CSV export; the API and page role matrices."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.emergency.models import EdVisit
from hms.inpatient import reports
from hms.inpatient.models import Admission, AdmissionStatus, BedStay

D0, D1, D2 = dt.date(2026, 2, 9), dt.date(2026, 2, 10), dt.date(2026, 2, 11)  # no DST change in these days


def at(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """A wall-clock time of the hospital's zone."""
    return reports.day_start(day) + dt.timedelta(hours=hour, minutes=minute, seconds=second)


def _admission(w, *, ward, bed, admitted, discharged=None, status=AdmissionStatus.DISCHARGED, stay_end=None):
    adm = Admission.objects.create(
        patient=PatientFactory(),
        source="planned",
        admitting_practitioner=w["doctor"].practitioner,
        reason="Planned",
        status=status,
        ward=ward,
        admitted_at=admitted,
        discharged_at=discharged,
        admitted_by=w["admin"],
    )
    BedStay.objects.create(
        admission=adm, bed=w["beds"][bed], start=admitted, end=stay_end, moved_by=w["admin"]
    )
    return adm


@pytest.fixture
def history(ward_world):
    """Medicine (4 beds): A in M1-1 from D1 06:00 to D2 18:00 (discharged); B in M1-2 from D1 12:00, still
    there. Maternity (2 beds): C from D0 00:00 to D2 00:00 (discharged). Left out: an admission cancelled on
    D1, one discharged before the period, a stay that ended before it."""
    w = ward_world
    med, mat = w["medicine"], w["maternity"]
    _admission(w, ward=med, bed="M1-1", admitted=at(D1, 6), discharged=at(D2, 18), stay_end=at(D2, 18))
    _admission(w, ward=med, bed="M1-2", admitted=at(D1, 12), status=AdmissionStatus.ACTIVE)
    _admission(w, ward=mat, bed="F1-1", admitted=at(D0), discharged=at(D2), stay_end=at(D2))
    _admission(
        w, ward=med, bed="M2-1", admitted=at(D1, 9), status=AdmissionStatus.CANCELLED, stay_end=at(D1, 9)
    )
    old = at(D0) - dt.timedelta(days=5)
    _admission(w, ward=med, bed="M2-2", admitted=old, discharged=at(D0, 1), stay_end=at(D0, 1))
    return w


# ---------------------------------------------------------------- computations


def test_occupancy_by_ward_and_day(history):
    """Medicine D1: 18 h + 12 h = 1.25 bed-days of 4 beds = 31.25 % -> 31.3; D2: 18 h + 24 h = 1.75 ->
    43.75 % -> 43.8 (the open stay counts until `now`). Maternity D1: 24 h of 2 beds = 50 %; D2: 0."""
    rows = reports.occupancy_by_ward_day(D1, D2, now=at(D2 + dt.timedelta(days=1), 3))
    got = {(r.ward, r.day): (r.bed_days, r.capacity, r.occupancy_pct) for r in rows}
    assert got == {
        ("Medicine", D1): (Decimal("1.25"), 4, Decimal("31.3")),
        ("Medicine", D2): (Decimal("1.75"), 4, Decimal("43.8")),
        ("Maternity", D1): (Decimal("1.00"), 2, Decimal("50.0")),
        ("Maternity", D2): (Decimal("0.00"), 2, Decimal("0.0")),
    }
    # Only the open stay is cut at `now`: at D2 06:00, D2 has A's 18 h and B's first 6 h.
    (d2,) = reports.occupancy_by_ward_day(D2, D2, ward_ids=[history["medicine"].pk], now=at(D2, 6))
    assert (d2.bed_days, d2.occupancy_pct) == (Decimal("1.00"), Decimal("25.0"))


def test_length_of_stay(history):
    """A: 1 d 12 h = 1.5 days (Medicine); C: 2 days (Maternity); all: mean 1.75, median 1.75. The cancelled
    and the earlier discharge are left out."""
    rows = reports.length_of_stay(D1, D2)
    got = [(r.ward, r.discharges, r.mean_days, r.median_days) for r in rows]
    assert got == [
        ("All wards", 2, Decimal("1.75"), Decimal("1.75")),
        ("Maternity", 1, Decimal("2.00"), Decimal("2.00")),
        ("Medicine", 1, Decimal("1.50"), Decimal("1.50")),
    ]
    assert reports.length_of_stay(D0 - dt.timedelta(days=30), D0 - dt.timedelta(days=20)) == [
        reports.LengthOfStayRow(None, "All wards", 0, None, None)
    ]


def test_admissions_and_discharges_per_day(history):
    rows = reports.admissions_per_day(D0, D2)
    assert [(r.day, r.admissions, r.discharges) for r in rows] == [(D0, 1, 1), (D1, 2, 0), (D2, 0, 2)]


def test_ed_waits_by_esi(ward_world):
    """ESI 2: 10, 20, 30, 40 min -> median 25.0, p90 (nearest rank 4 of 4) 40.0. ESI 3: 5..50 min and one
    not seen -> median 27.5, p90 (rank 9 of 10) 45.0. ESI 1: 30 s -> 0.5. Left out: an untriaged visit and
    one before the period."""
    patient = ward_world["patient"]

    def visit(level, arrived, wait_seconds):
        EdVisit.objects.create(
            patient=patient,
            arrived_at=arrived,
            chief_complaint="x",
            esi_level=level,
            doctor_seen_at=None if wait_seconds is None else arrived + dt.timedelta(seconds=wait_seconds),
        )

    for minutes in (40, 10, 30, 20):
        visit(2, at(D1, 8), minutes * 60)
    for minutes in range(5, 55, 5):
        visit(3, at(D2, 14), minutes * 60)
    visit(3, at(D2, 15), None)
    visit(1, at(D1, 23, 59), 30)
    visit(None, at(D1, 10), 60)
    visit(5, at(D0, 10), 600)
    rows = {r.esi_level: r for r in reports.ed_waits_by_esi(D1, D2)}
    assert list(rows) == [1, 2, 3, 4, 5]
    assert (rows[1].seen, rows[1].median_minutes, rows[1].p90_minutes) == (1, Decimal("0.5"), Decimal("0.5"))
    assert (rows[2].seen, rows[2].median_minutes, rows[2].p90_minutes) == (
        4,
        Decimal("25.0"),
        Decimal("40.0"),
    )
    assert (rows[3].seen, rows[3].median_minutes, rows[3].p90_minutes, rows[3].not_seen) == (
        10,
        Decimal("27.5"),
        Decimal("45.0"),
        1,
    )
    assert (rows[5].seen, rows[5].median_minutes, rows[5].p90_minutes) == (0, None, None)
    assert reports.nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90) == 10


def test_report_period_rules():
    today = dt.date(2026, 5, 31)
    assert reports.report_period("", "", today=today) == (dt.date(2026, 5, 2), today)
    assert reports.report_period("2026-01-01", "", today=today) == (dt.date(2026, 1, 1), dt.date(2026, 1, 30))
    for start, end, field in (
        ("2026-13-01", "", "start"),
        ("", "yesterday", "end"),
        ("2026-02-02", "2026-02-01", "end"),
        ("2025-01-01", "2026-01-02", "end"),
    ):
        with pytest.raises(Exception) as exc:
            reports.report_period(start, end, today=today)
        assert field in exc.value.message_dict


def test_csv_neutralises_formulas_and_keeps_numbers():
    text = reports.occupancy_csv([reports.OccupancyRow(1, "=HYPERLINK(1)", D1, Decimal("-1.50"), 4, None)])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["ward_id", "ward", "day", "occupied_bed_days", "capacity_beds", "occupancy_pct"]
    assert rows[1] == ["1", "'=HYPERLINK(1)", "2026-02-10", "-1.50", "4", ""]


# ---------------------------------------------------------------- API

API = {
    "occupancy": "api-report-occupancy",
    "length-of-stay": "api-report-length-of-stay",
    "admissions": "api-report-admissions",
    "ed-waits": "api-report-ed-waits",
}
PERIOD = {"start": D1.isoformat(), "end": D2.isoformat()}


@pytest.mark.parametrize(
    "role,expected",
    [
        (Role.ADMIN, 200),
        (Role.DOCTOR, 200),
        (Role.NURSE, 200),
        (Role.RECEPTIONIST, 403),
        (Role.PHARMACIST, 403),
        (Role.LAB_TECHNICIAN, 403),
        (Role.BILLING, 403),
        (Role.PATIENT, 403),
        (None, 401),
    ],
)
def test_api_role_matrix(role, expected, db):
    client = api_client_for(make_user(role) if role else None)
    for name in API.values():
        assert client.get(reverse(name), PERIOD).status_code == expected, name
        assert client.get(reverse(name), {**PERIOD, "format": "csv"}).status_code == expected, name


def test_api_json_and_csv(history):
    client = api_client_for(history["nurse"])
    body = client.get(reverse(API["length-of-stay"]), PERIOD).json()
    assert body["start"] == "2026-02-10" and body["end"] == "2026-02-11"
    assert body["rows"][0] == {
        "ward_id": None,
        "ward": "All wards",
        "discharges": 2,
        "mean_days": "1.75",
        "median_days": "1.75",
    }
    body = client.get(reverse(API["admissions"]), PERIOD).json()
    assert body["rows"] == [
        {"day": "2026-02-10", "admissions": 2, "discharges": 0},
        {"day": "2026-02-11", "admissions": 0, "discharges": 2},
    ]
    medicine = history["medicine"].pk
    body = client.get(reverse(API["occupancy"]), {**PERIOD, "ward": medicine}).json()
    first = body["rows"][0]
    assert (first["ward_id"], first["day"], first["bed_days"]) == (
        medicine,
        "2026-02-10",
        "1.25",
    )
    assert {r["ward_id"] for r in body["rows"]} == {medicine}
    response = client.get(reverse(API["admissions"]), {**PERIOD, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="admissions-20260210-20260211.csv"' in response["Content-Disposition"]
    assert response.content.decode().splitlines() == [
        "day,admissions,discharges",
        "2026-02-10,2,0",
        "2026-02-11,0,2",
    ]
    response = client.get(reverse(API["ed-waits"]), PERIOD, HTTP_ACCEPT="text/csv")
    assert response.content.decode().splitlines()[0].startswith("esi_level,seen,median")


@pytest.mark.parametrize(
    "params,field",
    [
        ({"start": "2026-02-30"}, "start"),
        ({"start": "2026-02-10", "end": "2026-02-01"}, "end"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "end"),
        ({"ward": "abc"}, "ward"),
        ({"ward": "0"}, "ward"),
    ],
)
def test_api_bad_input_is_400_with_the_field(params, field, ward_world):
    client = api_client_for(ward_world["admin"])
    response = client.get(reverse(API["occupancy"]), params)
    assert response.status_code == 400 and field in response.json()


def test_api_ward_must_be_a_ward(ward_world):
    client = api_client_for(ward_world["admin"])
    room = ward_world["beds"]["M1-1"].parent
    response = client.get(reverse(API["occupancy"]), {"ward": room.pk})
    assert response.status_code == 400 and response.json() == {"ward": ["No such ward."]}


# ---------------------------------------------------------------- page


@pytest.mark.parametrize(
    "role,expected",
    [
        (Role.ADMIN, 200),
        (Role.DOCTOR, 200),
        (Role.NURSE, 200),
        (Role.RECEPTIONIST, 403),
        (Role.PHARMACIST, 403),
        (Role.LAB_TECHNICIAN, 403),
        (Role.BILLING, 403),
        (Role.PATIENT, 403),
    ],
)
def test_page_role_matrix(role, expected, db, client):
    client.force_login(make_user(role))
    assert client.get(reverse("portal:inpatient_reports")).status_code == expected
    assert client.get(reverse("portal:inpatient_reports"), {"download": "admissions"}).status_code == expected


def test_page_shows_tables_charts_and_downloads(history, client):
    client.force_login(history["admin"])
    response = client.get(reverse("portal:inpatient_reports"), PERIOD)
    html = response.content.decode()
    assert response.status_code == 200
    for testid in ("chart-occupancy", "chart-los", "chart-ed", "chart-admissions"):
        assert f'data-testid="{testid}"><svg' in html.replace("\n", "")
    assert "<script" not in html.split("<main", 1)[1].split("</main>")[0]
    assert "31.3%" in html and "43.8%" in html  # Medicine's two days
    assert "1.75" in html
    assert 'for="report-start"' in html and 'for="report-end"' in html
    response = client.get(reverse("portal:inpatient_reports"), {**PERIOD, "download": "length-of-stay"})
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[1] == ",All wards,2,1.75,1.75"


def test_page_bad_date_is_400_with_the_message(ward_world, client):
    client.force_login(ward_world["doctor"])
    response = client.get(reverse("portal:inpatient_reports"), {"start": "2026-02-10", "end": "2026-01-01"})
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    response = client.get(reverse("portal:inpatient_reports"), {"start": "nonsense"})
    assert response.status_code == 400 and "Enter a date as YYYY-MM-DD." in response.content.decode()
    anonymous = client.__class__()
    assert anonymous.get(reverse("portal:inpatient_reports")).status_code == 302
