"""URL lines of the billing REST API, one block per module (mounted under /api/ by config/urls.py)."""

from django.urls import path

from . import api_claims, api_invoices, api_payments

urlpatterns = []

# claims
urlpatterns += [
    path("payers/", api_claims.PayerListCreateApi.as_view(), name="api-payers"),
    path("coverages/", api_claims.CoverageListCreateApi.as_view(), name="api-coverages"),
    path("coverages/<int:pk>/", api_claims.CoverageDetailApi.as_view(), name="api-coverage"),
    path("insurance/claims/", api_claims.ClaimListCreateApi.as_view(), name="api-claims"),
    path("insurance/claims/<int:pk>/", api_claims.ClaimDetailApi.as_view(), name="api-claim"),
    path(
        "insurance/claims/<int:pk>/validate/",
        api_claims.ClaimValidateApi.as_view(),
        name="api-claim-validate",
    ),
    path("insurance/claims/<int:pk>/submit/", api_claims.ClaimSubmitApi.as_view(), name="api-claim-submit"),
    path("insurance/claims/<int:pk>/cancel/", api_claims.ClaimCancelApi.as_view(), name="api-claim-cancel"),
    path("insurance/claims/<int:pk>/fhir/", api_claims.ClaimFhirApi.as_view(), name="api-claim-fhir"),
    path(
        "insurance/claims/<int:pk>/response/",
        api_claims.ClaimResponseApi.as_view(),
        name="api-claim-response",
    ),
]

# payments
urlpatterns += [
    path("payments/", api_payments.PaymentListCreateApi.as_view(), name="api-payments"),
    path("payments/online/", api_payments.PaymentOnlineApi.as_view(), name="api-payments-online"),
    path(
        "payments/gateway/<slug:name>/callback/",
        api_payments.GatewayCallbackApi.as_view(),
        name="api-payments-gateway-callback",
    ),
    path("payments/<int:pk>/", api_payments.PaymentDetailApi.as_view(), name="api-payment"),
    path("payments/<int:pk>/receipt/", api_payments.PaymentReceiptApi.as_view(), name="api-payment-receipt"),
    path("refunds/", api_payments.RefundListCreateApi.as_view(), name="api-refunds"),
    path("refunds/<int:pk>/approve/", api_payments.RefundApproveApi.as_view(), name="api-refund-approve"),
    path("refunds/<int:pk>/reject/", api_payments.RefundRejectApi.as_view(), name="api-refund-reject"),
    path("reports/billing/cash-up/", api_payments.CashUpApi.as_view(), name="api-report-cash-up"),
    path("reports/billing/ageing/", api_payments.AgeingApi.as_view(), name="api-report-ageing"),
]

# invoices (price list, charges, invoices, the patient's bills)
urlpatterns += [
    path("price-list/", api_invoices.PriceListApi.as_view(), name="api-price-list"),
    path("charges/", api_invoices.ChargeListCreateApi.as_view(), name="api-charges"),
    path("charges/<int:pk>/cancel/", api_invoices.ChargeCancelApi.as_view(), name="api-charge-cancel"),
    path("charges/<int:pk>/fhir/", api_invoices.ChargeFhirApi.as_view(), name="api-charge-fhir"),
    path("invoices/", api_invoices.InvoiceListCreateApi.as_view(), name="api-invoices"),
    path("invoices/<int:pk>/", api_invoices.InvoiceDetailApi.as_view(), name="api-invoice"),
    path("invoices/<int:pk>/issue/", api_invoices.InvoiceIssueApi.as_view(), name="api-invoice-issue"),
    path(
        "invoices/<int:pk>/credit-note/",
        api_invoices.InvoiceCreditNoteApi.as_view(),
        name="api-invoice-credit-note",
    ),
    path("invoices/<int:pk>/pdf/", api_invoices.InvoicePdfApi.as_view(), name="api-invoice-pdf"),
    path("invoices/<int:pk>/fhir/", api_invoices.InvoiceFhirApi.as_view(), name="api-invoice-fhir"),
    path("bills/", api_invoices.BillListApi.as_view(), name="api-bills"),
]
