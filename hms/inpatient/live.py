"""Live updates of the bed board over Django Channels.

Groups: `beds.ward.<ward_id>` (one ward's board) and `beds.all` (the hospital overview). ADT services call
`beds_publish(ward_id)` inside their transaction; the message goes out after commit (`transaction.on_commit`),
and only says "this ward changed": pages re-read their audited, scoped table over HTTP (and do so on reconnect
too), so a lost push loses nothing and no patient data travels on the socket.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

ALL_GROUP = "beds.all"
MESSAGE_TYPE = "beds.changed"  # handled by BedBoardConsumer.beds_changed


def beds_group(ward_id: int | None) -> str:
    """The Channels group name of a ward's board (None = the whole hospital)."""
    return ALL_GROUP if ward_id is None else f"beds.ward.{int(ward_id)}"


def _send(ward_id: int | None) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": MESSAGE_TYPE, "ward": ward_id}
    groups = [ALL_GROUP] if ward_id is None else [beds_group(ward_id), ALL_GROUP]
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # a push is a hint; the committed ADT change must not fail because of it
        logger.exception("bed board push failed for ward %s", ward_id)


def beds_publish(ward_id: int | None) -> None:
    """Tell watchers of ward `ward_id`'s board (and of the overview) that it changed, after commit.

    Call it inside the writing transaction; outside one, `on_commit` runs the send at once. `ward_id` is the
    pk of the ward `Location` (None: only the overview is told, e.g. a change not tied to one ward).
    """
    ward = None if ward_id is None else int(ward_id)
    transaction.on_commit(lambda: _send(ward))
