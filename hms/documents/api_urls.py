from django.urls import path

from . import api

urlpatterns = [
    path("attachments/", api.DocumentListCreateApi.as_view(), name="api-attachments"),
    path("attachments/<int:pk>/", api.DocumentDetailApi.as_view(), name="api-attachment"),
    path("attachments/<int:pk>/download/", api.DocumentDownloadApi.as_view(), name="api-attachment-download"),
    path(
        "attachments/<int:pk>/entered-in-error/",
        api.DocumentEnteredInErrorApi.as_view(),
        name="api-attachment-entered-in-error",
    ),
]
