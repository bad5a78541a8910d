"""EPCIS sensor reports as CCP readings: a captured event's ``sensorElementList`` feeds the readings ingest.

A report becomes a reading of the CCP whose devices include its ``deviceID`` (the report's, else its element's
metadata's); without such a device, of the one CCP of the event's site that reads in the report's unit, under
that CCP's first device. Its time is the report's, else the metadata's, else the event's; its value the
report's ``value`` (else ``booleanValue`` as 1/0). Reports that name no CCP this way are not readings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

# UN/CEFACT Recommendation 20 codes EPCIS uses for ``uom``, and the units a plant names its CCPs in
UNITS: Final[dict[str, str]] = {
    "CEL": "°C",
    "FAH": "°F",
    "KEL": "K",
    "MMT": "mm",
    "59": "ppm",
    "P1": "%",
    "SEC": "s",
    "MIN": "min",
}


def _unit(uom: Any) -> str | None:
    return UNITS.get(uom, uom) if isinstance(uom, str) else None


def _time(value: Any, fallback: datetime) -> str:
    return value if isinstance(value, str) else fallback.isoformat()


def sensor_readings(
    ccps: Sequence[Mapping[str, Any]], *, event_time: datetime, elements: Sequence[Any]
) -> list[dict[str, Any]]:
    """The readings ``{ccpId, deviceId, at, value, unit}`` of one event's sensor elements at a site with ``ccps``."""
    by_device = {device: ccp for ccp in ccps for device in ccp.get("devices") or ()}
    by_unit: dict[str, list[Mapping[str, Any]]] = {}
    for each in ccps:
        by_unit.setdefault(each["unit"], []).append(each)
    readings: list[dict[str, Any]] = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        found = element.get("sensorMetadata")
        metadata: dict[str, Any] = found if isinstance(found, dict) else {}
        for report in element.get("sensorReport") or ():
            if not isinstance(report, dict):
                continue
            value = report.get("value")
            if value is None and isinstance(report.get("booleanValue"), bool):
                value = 1.0 if report["booleanValue"] else 0.0
            if value is None:
                continue
            unit = _unit(report.get("uom"))
            device = report.get("deviceID") or metadata.get("deviceID")
            ccp: Mapping[str, Any] | None = by_device.get(device) if isinstance(device, str) else None
            if ccp is None:
                candidates = by_unit.get(unit or "", [])
                if len(candidates) != 1 or not candidates[0].get("devices"):
                    continue
                ccp = candidates[0]
                device = ccp["devices"][0]
            readings.append(
                {
                    "ccpId": ccp["id"],
                    "deviceId": device,
                    "at": _time(report.get("time") or metadata.get("time"), event_time),
                    "value": value,
                    "unit": unit,
                }
            )
    return readings
