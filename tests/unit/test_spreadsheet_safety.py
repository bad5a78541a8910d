"""OWASP's CSV-injection rule, one helper for every export: formula-like text quoted, everything else as it was."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph_schema.spreadsheet_safety import safe_cell, safe_row


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "\0=1", "＝1+1", "＋1", "－1", "＠SUM(A1)"],
)
def test_text_that_a_spreadsheet_would_run_gets_a_leading_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["", "Soybean", "부침두부", "a=1", " =1", "'=1", "(01)08801234000017(10)=1"])
def test_other_text_is_unchanged(text: str) -> None:
    assert safe_cell(text) == text


def test_numbers_dates_and_empty_cells_stay_what_they_are() -> None:
    when = datetime(2026, 9, 1, tzinfo=UTC)
    assert safe_row([-5, -2.5, 0, when, None, True, "-5"]) == [-5, -2.5, 0, when, None, True, "'-5"]
