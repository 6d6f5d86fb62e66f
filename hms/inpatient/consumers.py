"""WebSocket consumer of the live bed board.

`ws/beds/<ward_id>/` joins group `beds.ward.<ward_id>`; `ws/beds/` joins `beds.all` (the hospital
overview). The user comes from the session (`AuthMiddlewareStack`). Who may watch (`board_may_watch`):
any active staff user (every role but patient) may watch any board; anonymous users, inactive users and
patients are refused before the handshake completes (close code 403 in the test client).
Messages sent to the browser: `{"event": "beds.changed", "ward": <id or null>}`; the page then re-reads
its table over HTTP (the audited, scoped read, which decides names versus initials), so no patient data
travels on the socket.
"""

import json

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

from .board import board_may_watch
from .live import beds_group


class BedBoardConsumer(WebsocketConsumer):
    def connect(self):
        raw = self.scope.get("url_route", {}).get("kwargs", {}).get("ward_id")
        ward_id = int(raw) if raw is not None else None
        if not board_may_watch(self.scope.get("user")):
            self.close()
            return
        self.group = beds_group(ward_id)
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()

    def disconnect(self, code):
        group = getattr(self, "group", None)
        if group is not None:
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def receive(self, text_data=None, bytes_data=None):
        """Clients only listen; anything they send is ignored."""

    def beds_changed(self, event):
        self.send(text_data=json.dumps({"event": "beds.changed", "ward": event.get("ward")}))
