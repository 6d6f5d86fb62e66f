"""Where scheduling tells the front desk about an appointment's status change (inside its transaction).

`appointment_status_changed` is called by `hms.scheduling.services` for every status transition, in the
same transaction, so the queue never disagrees with the appointment (check-in puts the patient in the
day's queue; start records the actual waiting time; cancel/no-show take them out).
"""


def appointment_status_changed(*, appointment, from_status: str, to_status: str, by) -> None:
    """No-op until the front-desk queue lands."""
