from django.urls import path

from . import api

urlpatterns = [
    path("notifications/", api.NotificationListApi.as_view(), name="notifications-list"),
    path("notifications/send/", api.NotificationSendApi.as_view(), name="notifications-send"),
    path(
        "notifications/preferences/",
        api.NotificationPreferenceApi.as_view(),
        name="notifications-preferences",
    ),
    path(
        "notifications/<int:notification_id>/read/",
        api.NotificationReadApi.as_view(),
        name="notifications-read",
    ),
]
