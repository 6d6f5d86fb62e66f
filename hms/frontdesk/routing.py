"""WebSocket routes of the front desk (mounted by `config.asgi`)."""

from django.urls import path

from .consumers import QueueConsumer

websocket_urlpatterns = [
    path("ws/queue/", QueueConsumer.as_asgi(), name="ws-queue-all"),
    path("ws/queue/<int:practitioner_id>/", QueueConsumer.as_asgi(), name="ws-queue"),
]
