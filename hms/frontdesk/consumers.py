"""WebSocket consumer of the live queue board.

`ws/queue/<practitioner_id>/` joins group `queue.<practitioner_id>`; `ws/queue/` joins `queue.all`
(every queue: reception and admin only). The user comes from the session (`AuthMiddlewareStack`); a user
who may not see that queue (`selectors.queue_may_view`) is refused before the handshake completes.
Messages sent to the browser: `{"event": "queue.changed", "practitioner": <id>}`; the page then re-reads
its table over HTTP (the audited, scoped read), so no patient data travels on the socket.
"""

import json

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

from .live import queue_group
from .selectors import queue_may_view


class QueueConsumer(WebsocketConsumer):
    def connect(self):
        raw = self.scope.get("url_route", {}).get("kwargs", {}).get("practitioner_id")
        practitioner_id = int(raw) if raw is not None else None
        if not queue_may_view(self.scope.get("user"), practitioner_id):
            self.close()
            return
        self.group = queue_group(practitioner_id)
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()

    def disconnect(self, code):
        group = getattr(self, "group", None)
        if group is not None:
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def receive(self, text_data=None, bytes_data=None):
        """Clients only listen; anything they send is ignored."""

    def queue_changed(self, event):
        self.send(text_data=json.dumps({"event": "queue.changed", "practitioner": event.get("practitioner")}))
