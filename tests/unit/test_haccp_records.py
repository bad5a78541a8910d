"""The monthly HACCP record's cells and months, without I/O."""

from __future__ import annotations

from datetime import datetime

import pytest

from graph_schema.errors import HubError
from graph_schema.haccp.readings import KST, month_range
from hub.haccp_records import log_rows


def test_a_month_runs_from_its_first_midnight_in_korea_to_the_next_months() -> None:
    assert month_range("2026-02") == (datetime(2026, 2, 1, tzinfo=KST), datetime(2026, 3, 1, tzinfo=KST))
    assert month_range("2026-12")[1] == datetime(2027, 1, 1, tzinfo=KST)
    for bad in ("2026-13", "2026-1", "26-01", None, "2026-01-01"):
        with pytest.raises(HubError) as refused:
            month_range(bad)
        assert refused.value.field == "month"


def test_hours_add_up_into_korean_days() -> None:
    ccp = {"id": "c", "code": "CCP-1B", "name": "Heating", "limitLow": 85.0, "limitHigh": 100.0, "unit": "°C"}
    hour = 3_600_000
    midnight_kst = int(datetime(2026, 9, 2, tzinfo=KST).timestamp() * 1000)
    hours = [
        ("c", midnight_kst - hour, 3600, 86.0, 95.0, 3600 * 90.0, 0),  # 23:00 on the 1st (KST)
        ("c", midnight_kst, 3600, 80.0, 92.0, 3600 * 88.0, 36),  # 00:00 on the 2nd
        ("c", midnight_kst + hour, 1800, 88.0, 99.0, 1800 * 91.0, 0),
    ]
    assert [row[:1] + row[6:12] for row in log_rows([ccp], hours)] == [
        ["2026-09-01", 3600, 86.0, 95.0, 90.0, 0, 100.0],
        ["2026-09-02", 5400, 80.0, 99.0, 89.0, 36, 99.33],
    ]
