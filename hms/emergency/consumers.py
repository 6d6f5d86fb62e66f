"""WebSocket consumers of the emergency department.

`ws/ed/board/` joins group `ed.board` (ED staff only: `services.is_ed_staff`, from the session user; anyone
else is refused before the handshake completes). Messages sent to the browser: `{"event": "ed.changed"}`;
the page then re-reads the board over HTTP (the audited, scoped read), so no patient data travels on the
socket.
"""

import json

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

from .live import BOARD_GROUP
from .services import is_ed_staff


class EdBoardConsumer(WebsocketConsumer):
    def connect(self):
        if not is_ed_staff(self.scope.get("user")):
            self.close()
            return
        self.group = BOARD_GROUP
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()

    def disconnect(self, code):
        group = getattr(self, "group", None)
        if group is not None:
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def receive(self, text_data=None, bytes_data=None):
        """Clients only listen; anything they send is ignored."""

    def ed_changed(self, event):
        self.send(text_data=json.dumps({"event": "ed.changed"}))
