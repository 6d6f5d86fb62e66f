"""WebSocket consumer of code alerts and broadcasts: `ws/alerts/`.

Signed-in staff only (the session user, `AuthMiddlewareStack`); anyone else is refused before the
handshake completes. The consumer joins `alerts.user.<own id>`, `alerts.role.<own role>` and
`alerts.all` (`alerts_live`) and forwards each pushed payload as JSON, e.g.
`{"event": "code.activated", "alert": 12, "activation": 5, "code": "Code Blue", "key": "blue",
"colour": "#1d4ed8", "location": "Ward 3B, bed 4", "note": "", "at": "2026-11-22T10:00:00+00:00",
"by": "Joy Kim"}`; `{"event": "code.acknowledged", "activation", "alert", "code", "by", "at"}` (to the
activator); `{"event": "code.changed" | "code.closed", "activation"}` (all staff);
`{"event": "broadcast", "broadcast", "title", "body", "urgent", "at", "by"}`. Clients only listen.
"""

import json

from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer

from hms.accounts.roles import STAFF_ROLES

from .alerts_live import ALL_GROUP, role_group, user_group

_STAFF = frozenset(str(r) for r in STAFF_ROLES)


class AlertConsumer(WebsocketConsumer):
    def connect(self):
        user = self.scope.get("user")
        if not (user and user.is_authenticated and user.is_active and user.role in _STAFF):
            self.close()
            return
        self.groups_joined = [user_group(user.pk), role_group(user.role), ALL_GROUP]
        for group in self.groups_joined:
            async_to_sync(self.channel_layer.group_add)(group, self.channel_name)
        self.accept()

    def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def receive(self, text_data=None, bytes_data=None):
        """Clients only listen; anything they send is ignored."""

    def alert_message(self, event):
        self.send(text_data=json.dumps(event["payload"]))
