from django.urls import path

from . import api

urlpatterns = [
    path("labs/", api.LabOrderListCreateApi.as_view(), name="api-labs"),
    path("labs/<int:pk>/", api.LabOrderDetailApi.as_view(), name="api-lab"),
    path("labs/<int:pk>/collect/", api.LabCollectApi.as_view(), name="api-lab-collect"),
    path("labs/<int:pk>/results/", api.LabResultsApi.as_view(), name="api-lab-results"),
    path(
        "labs/<int:pk>/results/entered-in-error/",
        api.LabResultErrorApi.as_view(),
        name="api-lab-results-error",
    ),
    path("labs/<int:pk>/acknowledge/", api.LabAcknowledgeApi.as_view(), name="api-lab-acknowledge"),
    path("labs/<int:pk>/cancel/", api.LabCancelApi.as_view(), name="api-lab-cancel"),
    path("lab-tests/", api.LabTestSearchApi.as_view(), name="api-lab-tests"),
]
