from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from hms.billing.api_claims import ClaimListCreateApiV1
from hms.billing.api_invoices import SeedBillListApi
from hms.pharmacy.api import SeedPrescriptionListCreateApi

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/auth/", include("hms.accounts.api_urls")),
    path("api/", include("hms.patients.api_urls")),
    path("api/", include("hms.staff.api_urls")),
    path("api/", include("hms.clinical.api_urls")),
    path("api/", include("hms.lab.api_urls")),
    path("api/", include("hms.audit.api_urls")),
    path("api/", include("hms.scheduling.api_urls")),
    path("api/", include("hms.messaging.api_urls")),
    path("api/", include("hms.frontdesk.api_urls")),
    path("api/", include("hms.documents.api_urls")),
    path("api/", include("hms.terminology.api_urls")),
    path("api/", include("hms.inventory.api_urls")),
    path("api/", include("hms.pharmacy.api_urls")),
    path("api/", include("hms.cds.api_urls")),
    path("api/", include("hms.inpatient.api_urls")),
    path("api/", include("hms.emergency.api_urls")),
    path("api/", include("hms.billing.api_urls")),
    path(
        "medical/api/prescriptions/", SeedPrescriptionListCreateApi.as_view(), name="api-prescriptions-seed"
    ),
    path("patients/api/bills/", SeedBillListApi.as_view(), name="api-bills-seed"),
    path("patients/api/insurance/claim/", ClaimListCreateApiV1.as_view(), name="api-insurance-claim-seed"),
    path("frontdesk/", include("hms.frontdesk.urls", namespace="frontdesk")),
    path("", include("hms.portal.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
