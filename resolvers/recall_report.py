"""The recall report's address: ``GET /exports/recall-report`` (hub/recall_report.py), linked from ``Recall``."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

REPORT_PATH: Final = "/exports/recall-report"


def report_link(*, recall_id: str, lang: str = "en") -> str:
    """The relative URL of a recall's XLSX report; send it with the same bearer token."""
    return f"{REPORT_PATH}?{urlencode({'recall': recall_id, 'lang': lang})}"
