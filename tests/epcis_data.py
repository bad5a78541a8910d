"""Where the openepcis EPCIS 2.0 test documents are: a copy kept in the repository (Apache License 2.0, see
tests/data/epcis-openepcis/LICENSE and SOURCE.md), so that every checkout and CI runs the same checks."""

from __future__ import annotations

from pathlib import Path

OPENEPCIS = Path(__file__).resolve().parent / "data" / "epcis-openepcis"
