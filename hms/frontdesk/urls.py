from django.urls import path

from . import views

app_name = "frontdesk"

urlpatterns = [
    path("queue/", views.queue_page, name="queue"),
    path("queue/table/", views.queue_table, name="queue_table"),
    path("queue/walk-in/", views.queue_walk_in, name="queue_walk_in"),
    path("queue/walk-in/patients/", views.queue_walk_in_patients, name="queue_walk_in_patients"),
    path("queue/call-next/", views.queue_call_next, name="queue_call_next"),
    path("queue/<int:pk>/priority/", views.queue_priority, name="queue_priority"),
]
