from django.urls import path

from . import api

urlpatterns = [
    path("queue/", api.QueueListApi.as_view(), name="api-queue"),
    path("queue/walk-in/", api.QueueWalkInApi.as_view(), name="api-queue-walk-in"),
    path("queue/call-next/", api.QueueCallNextApi.as_view(), name="api-queue-call-next"),
    path("queue/<int:pk>/priority/", api.QueuePriorityApi.as_view(), name="api-queue-priority"),
]
