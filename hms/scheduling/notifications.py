"""Hook point for appointment notifications (confirmation, reschedule, cancellation, status changes).

The services call `appointment_notify` through `transaction.on_commit`, so nothing is announced for a
booking that rolled back. It does nothing yet: the messaging module plugs its single entry point
(`notification_send(*, recipient, event, context)`, DESIGN.md "One notification service") in here.
"""

import logging

logger = logging.getLogger(__name__)

# Events: "booked", "rescheduled", "cancelled", "confirmed", "arrived", "in-progress", "fulfilled", "noshow".


def appointment_notify(*, appointment_id: int, event: str) -> None:
    """Announce `event` about appointment `appointment_id` (after commit). No-op until messaging lands."""
    logger.debug("appointment %s: %s (no notification backend yet)", appointment_id, event)
