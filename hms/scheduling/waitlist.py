"""Waitlist: offering freed time to waiting patients.

`slot_freed(appointment_id=...)` is called after commit whenever an appointment's time range becomes free
again (a cancellation, or the old time of a reschedule).
"""


def slot_freed(*, appointment_id: int, start=None, end=None) -> None:
    """No-op until the waitlist lands. `start`/`end`: the freed range (defaults: the appointment's)."""
