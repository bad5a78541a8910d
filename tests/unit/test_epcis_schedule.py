"""The QuerySchedule of scheduled EPCIS query subscriptions: which seconds it runs at, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graph_schema.epcis.schedule import ScheduleError, parse_schedule
from graph_schema.epcis.subscriptions import SubscriptionError, check_request

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday, 00:00:00


def runs(schedule: dict[str, str], *, days: int = 8) -> list[datetime]:
    """Every second of ``days`` days from MONDAY the schedule runs at."""
    parsed = parse_schedule(schedule)
    found: list[datetime] = []
    for minute in range(days * 24 * 60):
        base = MONDAY + timedelta(minutes=minute)
        found += [base + timedelta(seconds=s) for s in range(60) if parsed.matches(base + timedelta(seconds=s))]
    return found


def test_the_standards_example_runs_once_a_day_at_1_05() -> None:
    assert runs({"hour": "1", "minute": "5"}, days=3) == [
        MONDAY + timedelta(days=d, hours=1, minutes=5) for d in range(3)
    ]


def test_lists_ranges_and_weekdays() -> None:
    every_half_hour_on_weekdays = runs({"minute": "0,30", "dayOfWeek": "[1-5]"}, days=7)
    assert len(every_half_hour_on_weekdays) == 5 * 48
    assert {moment.isoweekday() for moment in every_half_hour_on_weekdays} == {1, 2, 3, 4, 5}
    assert runs({"dayOfWeek": "7"}, days=7) == [MONDAY + timedelta(days=6)]  # Sunday at midnight, once
    assert runs({"second": "30", "minute": "[10-11]", "hour": "2"}, days=1) == [
        MONDAY + timedelta(hours=2, minutes=10, seconds=30),
        MONDAY + timedelta(hours=2, minutes=11, seconds=30),
    ]
    monthly = parse_schedule({"month": "12"})
    assert monthly.matches(datetime(2026, 12, 1, tzinfo=UTC))
    assert not monthly.matches(datetime(2026, 12, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({}, "schedule"),
        ("hourly", "schedule"),
        ({"hour": "24"}, "schedule.hour"),
        ({"minute": "[30-10]"}, "schedule.minute"),
        ({"dayOfWeek": "0"}, "schedule.dayOfWeek"),
        ({"second": "[0-59]"}, "schedule.second"),  # more than once a minute
        ({"minute": "=1+1"}, "schedule.minute"),
        ({"minute": "5" * 1000}, "schedule.minute"),
        ({"minute": ",".join(["5"] * 500)}, "schedule.minute"),
        ({"fortnight": "1"}, "schedule"),
        ({"hour": True}, "schedule.hour"),
    ],
)
def test_a_schedule_it_cannot_run_is_refused_naming_the_field(schedule: object, field: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        parse_schedule(schedule)
    assert refused.value.field == field


def test_a_subscription_is_streamed_or_scheduled_and_its_options_checked() -> None:
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    dest = "https://example.com/epcis"
    scheduled = check_request({"dest": dest, "schedule": {"hour": "1"}, "reportIfEmpty": True}, now=now)
    assert (scheduled.schedule is not None, scheduled.report_if_empty) == (True, True)
    streamed = check_request({"dest": dest, "stream": True, "initialRecordTime": "2026-12-01T09:00:00+09:00"}, now=now)
    assert (streamed.schedule, streamed.initial_record_time) == (None, "2026-12-01T00:00:00+00:00")
    for body, field in [
        ({"dest": dest}, "stream"),
        ({"dest": dest, "stream": True, "schedule": {"hour": "1"}}, "stream"),
        ({"dest": dest, "stream": True, "reportIfEmpty": True}, "reportIfEmpty"),
        ({"dest": dest, "schedule": {"hour": "1"}, "reportIfEmpty": "yes"}, "reportIfEmpty"),
        ({"dest": dest, "stream": True, "initialRecordTime": "2026-12-03T00:00:00Z"}, "initialRecordTime"),
        ({"dest": dest, "stream": True, "initialRecordTime": "yesterday"}, "initialRecordTime"),
        ({"dest": dest, "stream": True, "initialRecordTime": "2026-12-01T00:00:00Z" * 10}, "initialRecordTime"),
        ({"dest": dest, "hour": "1"}, "hour"),
    ]:
        with pytest.raises((SubscriptionError, ScheduleError)) as refused:
            check_request(body, now=now)
        assert refused.value.field == field, body
