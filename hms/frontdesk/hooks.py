"""Where scheduling tells the front desk about an appointment's status change (inside its transaction).

`appointment_status_changed` is called by `hms.scheduling.services` for every status transition, in the
same transaction, so the queue never disagrees with the appointment (check-in puts the patient in the
day's queue; start records the actual waiting time; complete, cancel and no-show take them out).
"""

from hms.scheduling.models import AppointmentStatus

from .models import QueueStatus

_CLOSING = {
    AppointmentStatus.FULFILLED: QueueStatus.DONE,
    AppointmentStatus.CANCELLED: QueueStatus.LEFT,
    AppointmentStatus.NOSHOW: QueueStatus.LEFT,
    AppointmentStatus.ENTERED_IN_ERROR: QueueStatus.LEFT,
}


def appointment_status_changed(*, appointment, from_status: str, to_status: str, by) -> None:
    """Follow an appointment's status in the queue: arrived → a new entry in today's queue of its
    practitioner; in-progress → entry in consultation, actual wait recorded; fulfilled → done;
    cancelled/noshow/entered-in-error → left. Other transitions change nothing."""
    from . import services

    if to_status == AppointmentStatus.ARRIVED:
        services.queue_check_in(appointment=appointment, by=by)
    elif to_status == AppointmentStatus.IN_PROGRESS:
        services.queue_start(appointment=appointment, by=by)
    elif to_status in _CLOSING:
        services.queue_close(appointment=appointment, by=by, status=_CLOSING[to_status])
