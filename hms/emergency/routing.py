"""WebSocket routes of the emergency department (mounted by `config.asgi`)."""

from django.urls import path

from .alerts_consumers import AlertConsumer
from .consumers import EdBoardConsumer

websocket_urlpatterns = [
    path("ws/ed/board/", EdBoardConsumer.as_asgi(), name="ws-ed-board"),
    path("ws/alerts/", AlertConsumer.as_asgi(), name="ws-alerts"),  # code alerts and broadcasts
]
