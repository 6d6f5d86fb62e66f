"""The ED's beat job: time-target alerts, a provider of `hms.messaging.reminders`.

Registered in `EmergencyConfig.ready()`; the beat task `messaging.reminders_due` calls it every
`REMINDERS_INTERVAL_SECONDS` (default 300), so an alert goes out at most one interval after the target is
exceeded. The work is `hms.emergency.services.ed_target_alerts_send` (targets, recipients, once per visit).
"""

import datetime as dt

from .services import ed_target_alerts_send


def ed_target_alerts(*, now: dt.datetime, offsets=None) -> int:
    """Provider: alert the ED about triaged patients waiting past their ESI target; returns how many."""
    return ed_target_alerts_send(now=now)
