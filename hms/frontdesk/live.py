"""Live updates of the queue board over Django Channels.

Groups: `queue.<practitioner_id>` (one practitioner's queue) and `queue.all` (every queue, reception).
Services call `queue_publish` inside their transaction; the message goes out after commit, and only says
"this queue changed": pages re-read their table (and do so on reconnect too), so a lost push loses nothing.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

ALL_GROUP = "queue.all"
MESSAGE_TYPE = "queue.changed"  # handled by QueueConsumer.queue_changed


def queue_group(practitioner_id: int | None) -> str:
    """The Channels group name of a practitioner's queue (None = every queue)."""
    return ALL_GROUP if practitioner_id is None else f"queue.{int(practitioner_id)}"


def _send(practitioner_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": MESSAGE_TYPE, "practitioner": practitioner_id}
    try:
        for group in (queue_group(practitioner_id), ALL_GROUP):
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # a push is a hint; the committed queue must not fail because of it
        logger.exception("queue push failed for practitioner %s", practitioner_id)


def queue_publish(practitioner_id: int) -> None:
    """Tell watchers of `practitioner_id`'s queue (and of every queue) that it changed, after commit."""
    transaction.on_commit(lambda: _send(practitioner_id))
