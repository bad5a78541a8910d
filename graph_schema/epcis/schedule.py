"""The QuerySchedule of a scheduled EPCIS query subscription (EPCIS 2.0 8.2.5.3): when it runs.

Each of ``second``, ``minute``, ``hour``, ``dayOfMonth``, ``month`` and ``dayOfWeek`` (1 Monday ... 7 Sunday) is a
text: a comma-separated list of numbers and ranges ``[low-high]``; a moment matches when every field matches. A field
left out matches any value, except the fields finer than the finest one given, which are at their least (the
standard's example ``{"hour": "1", "minute": "5"}`` runs at 01:05:00 each day, not every second of that minute).
This hub runs a subscription at most once a minute: ``second`` is one number. Times are UTC.

Standards code only: nothing here reads a clock or a store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from graph_schema.errors import HubError

FIELDS: Final = ("second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek")
_RANGES: Final = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "month": (1, 12),
    "dayOfWeek": (1, 7),
}
# how fine each field is: a day is a day whether named by its date or its weekday
_GRAIN: Final = {"second": 0, "minute": 1, "hour": 2, "dayOfMonth": 3, "dayOfWeek": 3, "month": 4}
_ELEMENT: Final = re.compile(r"(\d{1,2})|\[(\d{1,2})-(\d{1,2})\]")
MAX_TEXT: Final = 200


class ScheduleError(HubError):
    """A schedule the hub cannot run as given."""


@dataclass(frozen=True)
class Schedule:
    """The values each field allows (all of them for a field left out)."""

    given: dict[str, str]
    allowed: dict[str, frozenset[int]]

    def matches(self, moment: datetime) -> bool:
        """Whether the schedule runs at this second (UTC)."""
        values = {
            "second": moment.second,
            "minute": moment.minute,
            "hour": moment.hour,
            "dayOfMonth": moment.day,
            "month": moment.month,
            "dayOfWeek": moment.isoweekday(),
        }
        return all(values[name] in self.allowed[name] for name in FIELDS)

    def document(self) -> dict[str, str]:
        """As the subscription was given it."""
        return dict(self.given)


def _values(name: str, text: str) -> frozenset[int]:
    low, high = _RANGES[name]
    found: set[int] = set()
    for part in text.split(","):
        match = _ELEMENT.fullmatch(part.strip())
        if match is None:
            raise ScheduleError(
                f"schedule.{name}: {part.strip()[:50]!r} is neither a number nor a range such as [1-5]",
                field=f"schedule.{name}",
            )
        first = int(match.group(1) or match.group(2))
        last = int(match.group(1) or match.group(3))
        if not low <= first <= last <= high:
            raise ScheduleError(
                f"schedule.{name}: {part.strip()!r} is outside {low} to {high} (or its range runs backwards)",
                field=f"schedule.{name}",
            )
        found.update(range(first, last + 1))
    return frozenset(found)


def parse_schedule(value: Any) -> Schedule:
    """The schedule of a subscription request, checked; ScheduleError naming the field otherwise."""
    if not isinstance(value, dict) or not value:
        raise ScheduleError(
            "schedule must be an object with at least one of second, minute, hour, dayOfMonth, month, dayOfWeek,"
            ' such as {"hour": "1", "minute": "5"}',
            field="schedule",
        )
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise ScheduleError(f"schedule.{unknown[0][:50]} is not a field of a query schedule", field="schedule")
    given: dict[str, str] = {}
    for name in FIELDS:
        if name not in value:
            continue
        text = value[name]
        if isinstance(text, int) and not isinstance(text, bool):
            text = str(text)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise ScheduleError(
                f"schedule.{name} must be a text such as '5' or '1,15' or '[1-5]'", field=f"schedule.{name}"
            )
        given[name] = text.strip()
    allowed = {name: _values(name, given[name]) for name in given}
    if len(allowed.get("second", frozenset({0}))) != 1:
        raise ScheduleError(
            "schedule.second: give one second; this hub runs a subscription at most once a minute",
            field="schedule.second",
        )
    finest = min(_GRAIN[name] for name in given)
    for name in FIELDS:
        if name in allowed:
            continue
        low, high = _RANGES[name]
        # finer than the finest field given: at its least (the day by its date, whatever the weekday); else any
        least = _GRAIN[name] < finest and name != "dayOfWeek"
        allowed[name] = frozenset({low}) if least else frozenset(range(low, high + 1))
    return Schedule(given=given, allowed=allowed)
