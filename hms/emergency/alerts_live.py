"""Real-time pushes of code alerts and broadcasts over Django Channels.

Groups (joined by `alerts_consumers.AlertConsumer`, i.e. every signed-in staff page):
- `alerts.user.<user_id>`: one user's code alerts and the acknowledgements of the codes they activated;
- `alerts.role.<role>`: a broadcast to some roles;
- `alerts.all`: every signed-in staff member (broadcasts to everyone, "code N changed" hints).

Services call `alerts_push(group, message)` inside their transaction; the message goes out after commit
(a rolled-back activation alerts nobody). Messages carry no PHI: a code, a location in the building, a
time, a staff member's name, a broadcast's title and body. Pages re-read their state over HTTP after
every reconnect (`portal:my_alerts`), so a push lost while offline loses nothing.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

ALL_GROUP = "alerts.all"
MESSAGE_TYPE = "alert.message"  # handled by AlertConsumer.alert_message


def user_group(user_id: int) -> str:
    """The Channels group of one user's alerts."""
    return f"alerts.user.{int(user_id)}"


def role_group(role: str) -> str:
    """The Channels group of one role (`hms.accounts.roles.Role` value)."""
    return f"alerts.role.{role}"


def _send(groups: list[str], payload: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, {"type": MESSAGE_TYPE, "payload": payload})
        except Exception:  # a push is a hint; the committed record must not fail because of it
            logger.exception("alert push to %s failed", group)


def alerts_push(groups, payload: dict) -> None:
    """Send `payload` (a JSON-serialisable dict with an "event" key) to `groups` after commit."""
    groups = list(groups)
    transaction.on_commit(lambda: _send(groups, payload))
