"""The patient's history as one timeline, assembled from sources that each module registers.

A source is `fn(user, patient, *, date_from, date_to) -> Iterable[TimelineItem]`: it must read only through
the scoped selectors (`hms.patients.selectors.clinical_records` or its own module's selector for `user`),
and only rows with `at` in [date_from, date_to) when those are given (aware datetimes or None).
Modules register their sources in their `AppConfig.ready()`:

    from hms.clinical.timeline import register_timeline_source
    register_timeline_source("order", lab_orders_timeline)

`kind` values in use: encounter, note, diagnosis, allergy, vital, observation, order, result,
prescription, document, care-plan, daily-report. The assembler (`patient_timeline`, in
`hms.clinical.selectors`) merges them newest first and filters by kind.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TimelineItem:
    """One line of the history. `at`: aware datetime; `object_type`: "app_label.Model"."""

    kind: str
    at: dt.datetime
    title: str
    detail: str = ""
    encounter_id: int | None = None
    object_type: str = ""
    object_id: int | None = None
    url: str = ""


TimelineSource = Callable[..., Iterable[TimelineItem]]

_SOURCES: dict[str, TimelineSource] = {}


def register_timeline_source(kind: str, source: TimelineSource) -> None:
    """Register (or replace, on reload) the source of one `kind`. Sources are module-level functions, set
    once at start-up in `AppConfig.ready()`; this dict is never mutated while serving."""
    _SOURCES[kind] = source


def timeline_sources() -> dict[str, TimelineSource]:
    return dict(_SOURCES)
