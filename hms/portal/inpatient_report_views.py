"""Portal page of the inpatient and emergency-department reports (issue 6).

- `portal:inpatient_reports` `/reports/inpatient/?start=&end=`: bed occupancy by ward and day, length of
  stay, admissions and discharges per day, ED door-to-doctor times by ESI level: tables and pygal charts
  (server-side SVG). `&download=occupancy|length-of-stay|admissions|ed-waits` answers that table as CSV.

Who: admins, doctors and nurses (`hms.inpatient.api_reports.REPORT_ROLES`); others 403, anonymous users the
login page. Aggregates only, no patient named: not audited (see `hms.inpatient.api_reports`). A malformed
date, an end before the start or more than 366 days answers 400 with the message next to the field.
Definitions and sources: `hms.inpatient.reports`.
"""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hms.inpatient import reports
from hms.inpatient.api_reports import REPORT_ROLES

from .access import role_required

DOWNLOADS = {
    "occupancy": (reports.occupancy_by_ward_day, reports.occupancy_csv),
    "length-of-stay": (reports.length_of_stay, reports.length_of_stay_csv),
    "admissions": (reports.admissions_per_day, reports.admissions_csv),
    "ed-waits": (reports.ed_waits_by_esi, reports.ed_waits_csv),
}


@require_GET
@role_required(*REPORT_ROLES)
def inpatient_reports(request):
    """/reports/inpatient/: the four reports for a period (default: the last 30 days)."""
    raw_start = (request.GET.get("start") or "")[:20]
    raw_end = (request.GET.get("end") or "")[:20]
    try:
        start, end = reports.report_period(raw_start, raw_end)
    except ValidationError as exc:
        context = {"errors": exc.message_dict, "start": raw_start, "end": raw_end}
        return render(request, "portal/inpatient_reports/reports.html", context, status=400)
    download = request.GET.get("download")
    if download in DOWNLOADS:
        compute, to_csv = DOWNLOADS[download]
        response = HttpResponse(to_csv(compute(start, end)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{download}-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
        return response
    occupancy = reports.occupancy_by_ward_day(start, end)
    los = reports.length_of_stay(start, end)
    admissions = reports.admissions_per_day(start, end)
    ed_waits = reports.ed_waits_by_esi(start, end)
    wards: dict[int, str] = {}
    by_day: dict = {}
    for row in occupancy:  # a matrix: one line per day, one column per ward
        wards.setdefault(row.ward_id, row.ward)
        by_day.setdefault(row.day, []).append(row)
    context = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "errors": {},
        "occupancy_wards": list(wards.values()),
        "occupancy_days": sorted(by_day.items()),
        "los": los,
        "admissions": admissions,
        "admissions_total": sum(r.admissions for r in admissions),
        "discharges_total": sum(r.discharges for r in admissions),
        "ed_waits": ed_waits,
        "charts": {
            "occupancy": reports.occupancy_chart_svg(occupancy),
            "admissions": reports.admissions_chart_svg(admissions),
            "los": reports.length_of_stay_chart_svg(los),
            "ed_waits": reports.ed_waits_chart_svg(ed_waits),
        },
    }
    return render(request, "portal/inpatient_reports/reports.html", context)
