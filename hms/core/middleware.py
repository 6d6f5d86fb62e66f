"""Request middleware shared by the web pages."""

import zoneinfo

from django.conf import settings
from django.utils import timezone


class HospitalTimeZoneMiddleware:
    """Show and read times of the web pages in the hospital's zone (`HOSPITAL_TIME_ZONE`).

    Storage stays UTC (`TIME_ZONE`). Full pages already wrap their body in `{% timezone %}` (base.html);
    this also covers htmx fragments, which render without base.html, and the naive datetimes typed into
    forms. The REST and FHIR APIs keep answering in UTC (ISO 8601 with offset), so they are left alone.
    """

    API_PREFIXES = ("/api/", "/fhir/")

    def __init__(self, get_response):
        self.get_response = get_response
        self.zone = zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)

    def __call__(self, request):
        if request.path.startswith(self.API_PREFIXES):
            return self.get_response(request)
        timezone.activate(self.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
