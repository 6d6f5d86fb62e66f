"""WebSocket routes of the bed board (mounted by `config.asgi`)."""

from django.urls import path

from .consumers import BedBoardConsumer

websocket_urlpatterns = [
    path("ws/beds/", BedBoardConsumer.as_asgi(), name="ws-beds-all"),
    path("ws/beds/<int:ward_id>/", BedBoardConsumer.as_asgi(), name="ws-beds-ward"),
]
