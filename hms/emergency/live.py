"""Live updates of the ED tracking board over Django Channels.

Group `ed.board`: the tracking board (waiting and in-treatment patients, open emergency requests). ED
services call `ed_publish()` inside their transaction; the message goes out after commit, and only says
"the board changed": pages re-read their audited, scoped board over HTTP (and do so on reconnect too), so a
lost push loses nothing and no patient data travels on the socket.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

BOARD_GROUP = "ed.board"
MESSAGE_TYPE = "ed.changed"  # handled by EdBoardConsumer.ed_changed


def _send() -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(BOARD_GROUP, {"type": MESSAGE_TYPE})
    except Exception:  # a push is a hint; the committed change must not fail because of it
        logger.exception("ED board push failed")


def ed_publish() -> None:
    """Tell watchers of the ED board that it changed, after commit (at once outside a transaction)."""
    transaction.on_commit(_send)
