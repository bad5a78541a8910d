"""The GS1 EPCIS 2.0 JSON schema (gs1/EPCIS, tests/data/gs1-epcis) as an independent check of captured documents.

``cross_check(doc, accepted_whole=...)`` is called by the suite's capture helpers on every JSON document they send:
a document the hub captured whole (no event refused) must validate against the schema (so the schema refusing a
document means the hub refused at least part of it). Where the hub is knowingly more lenient than the schema, the
exception is listed in ``LENIENT`` with the reason.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Final

import orjson
from jsonschema import Draft7Validator, FormatChecker

SCHEMA: Final = Path(__file__).resolve().parent / "data" / "gs1-epcis" / "EPCIS-JSON-Schema.json"

# Refusals of the schema the hub knowingly does not make, by name: (what it looks like, why the hub accepts it).
LENIENT: Final[dict[str, str]] = {
    "sensorReport without type": (
        "the schema requires a sensorReport's 'type'; openepcis's valid test document "
        "SensorData_with_combined_events.json has reports that carry only an exception (an alarm or error "
        "condition, no measurement), and the hub accepts them as that test suite expects"
    ),
    "measurement type outside the schema's list": (
        "the schema's enumeration of measurement types lags the GS1 web vocabulary: openepcis's valid documents "
        "use 'EffectiveDoseRate' and 'Molar_concentration'; the hub does not check measurement types against a list "
        "(graph_schema/epcis/vocabulary.py says why)"
    ),
    "persistentDisposition on an AggregationEvent": (
        "EPCIS 2.0 gives every event type persistentDisposition, but the schema's AggregationEvent leaves it out of "
        "its property names; openepcis's valid AggregationEvent_with_persistentDisposition.json uses it"
    ),
}


def lenient_kind(path: list[str], message: str) -> str | None:
    """Which allowance of ``LENIENT`` an error of the schema falls under, if any."""
    if len(path) >= 2 and path[-2] == "sensorReport" and "'type' is a required property" in message:
        return "sensorReport without type"
    if len(path) >= 3 and path[-3] == "sensorReport" and path[-1] == "type" and "is not valid under any" in message:
        return "measurement type outside the schema's list"
    if message == "'persistentDisposition' is not valid under any of the given schemas":
        return "persistentDisposition on an AggregationEvent"
    return None


@cache
def validator() -> Draft7Validator:
    """The schema's validator, with its formats (date-time, uri) checked."""
    return Draft7Validator(orjson.loads(SCHEMA.read_bytes()), format_checker=FormatChecker())


def schema_errors(doc: Any, *, lenient: bool = True) -> list[str]:
    """What the schema says is wrong with a document or an event, each with its JSON path ('' when valid)."""
    found: list[str] = []
    for error in validator().iter_errors(doc):
        where = "/".join(str(part) for part in error.absolute_path)
        if lenient and lenient_kind([str(part) for part in error.absolute_path], error.message) is not None:
            continue
        found.append(f"{where or '(document)'}: {error.message[:300]}")
    return found


def cross_check(doc: Any, *, accepted_whole: bool) -> None:
    """Fail when the hub and the GS1 schema disagree about a JSON document the hub was sent."""
    if isinstance(doc, bytes | bytearray):
        try:
            doc = orjson.loads(doc)
        except orjson.JSONDecodeError:
            return  # not JSON at all: the hub's own tests say what it answers
    if not isinstance(doc, dict):
        return
    if doc.get("type") == "EPCISMasterDataDocument":
        return  # GS1's EPCIS 2.0 JSON schema defines no master-data document (the XML binding's XSD checks those)
    errors = schema_errors(doc)
    if accepted_whole:
        assert errors == [], f"the hub captured a document the GS1 EPCIS JSON schema refuses: {errors[:5]}"
