from django.urls import path

from . import api, api_waitlist

urlpatterns = [
    path("doctors/<int:pk>/slots/", api.DoctorSlotsApi.as_view(), name="api-doctor-slots"),
    path("service-types/", api.ServiceTypeListApi.as_view(), name="api-service-types"),
    path("appointments/", api.AppointmentListCreateApi.as_view(), name="api-appointments"),
    path("appointments/upcoming/", api.AppointmentUpcomingApi.as_view(), name="api-appointments-upcoming"),
    path(
        "appointments/auto-assign/",
        api.AppointmentAutoAssignApi.as_view(),
        name="api-appointments-auto-assign",
    ),
    path("appointments/<int:pk>/", api.AppointmentDetailApi.as_view(), name="api-appointment"),
    path("appointments/<int:pk>/cancel/", api.AppointmentCancelApi.as_view(), name="api-appointment-cancel"),
    path(
        "appointments/<int:pk>/confirm/", api.AppointmentConfirmApi.as_view(), name="api-appointment-confirm"
    ),
    path(
        "appointments/<int:pk>/check-in/",
        api.AppointmentCheckInApi.as_view(),
        name="api-appointment-check-in",
    ),
    path("appointments/<int:pk>/start/", api.AppointmentStartApi.as_view(), name="api-appointment-start"),
    path(
        "appointments/<int:pk>/complete/",
        api.AppointmentCompleteApi.as_view(),
        name="api-appointment-complete",
    ),
    path(
        "appointments/<int:pk>/no-show/", api.AppointmentNoShowApi.as_view(), name="api-appointment-no-show"
    ),
    path("waitlist/", api_waitlist.WaitlistListCreateApi.as_view(), name="api-waitlist"),
    path("waitlist/<int:pk>/", api_waitlist.WaitlistDetailApi.as_view(), name="api-waitlist-entry"),
    path("waitlist/<int:pk>/accept/", api_waitlist.WaitlistAcceptApi.as_view(), name="api-waitlist-accept"),
]
