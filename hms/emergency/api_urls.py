from django.urls import path

from . import api, api_codes

urlpatterns = [
    # emergency department and patient emergency requests
    path("ed/visits/", api.EdVisitListCreateApi.as_view(), name="api-ed-visits"),
    path("ed/visits/<int:pk>/triage/", api.EdTriageApi.as_view(), name="api-ed-visit-triage"),
    path("ed/visits/<int:pk>/seen/", api.EdSeenApi.as_view(), name="api-ed-visit-seen"),
    path("ed/visits/<int:pk>/depart/", api.EdDepartApi.as_view(), name="api-ed-visit-depart"),
    path("ed/esi-suggest/", api.EsiSuggestApi.as_view(), name="api-ed-esi-suggest"),
    path("emergency-requests/", api.EmergencyRequestListCreateApi.as_view(), name="api-emergency-requests"),
    path(
        "emergency-requests/<int:pk>/", api.EmergencyRequestDetailApi.as_view(), name="api-emergency-request"
    ),
    path(
        "emergency-requests/<int:pk>/acknowledge/",
        api.EmergencyRequestAcknowledgeApi.as_view(),
        name="api-emergency-request-acknowledge",
    ),
    path(
        "emergency-requests/<int:pk>/dispatch/",
        api.EmergencyRequestDispatchApi.as_view(),
        name="api-emergency-request-dispatch",
    ),
    path(
        "emergency-requests/<int:pk>/close/",
        api.EmergencyRequestCloseApi.as_view(),
        name="api-emergency-request-close",
    ),
    # codes and broadcasts
    path("codes/", api_codes.CodeTypeListApi.as_view(), name="api-codes"),
    path("code-activations/", api_codes.CodeActivationListApi.as_view(), name="api-code-activations"),
    path(
        "code-activations/<int:pk>/", api_codes.CodeActivationDetailApi.as_view(), name="api-code-activation"
    ),
    path(
        "code-activations/<int:pk>/acknowledge/",
        api_codes.CodeAcknowledgeApi.as_view(),
        name="api-code-activation-acknowledge",
    ),
    path(
        "code-activations/<int:pk>/close/", api_codes.CodeCloseApi.as_view(), name="api-code-activation-close"
    ),
    path("duty/", api_codes.DutyApi.as_view(), name="api-duty"),
    path("broadcasts/", api_codes.BroadcastListApi.as_view(), name="api-broadcasts"),
]
