"""Content negotiation of the EPCIS query answers: JSON-LD or XML, the GS1-* version headers, the EPC format.

``negotiate`` reads what the client asks (``Accept``, ``GS1-EPCIS-Version``, ``GS1-EPCIS-Min``/``Max``,
``GS1-CBV-Version``, ``GS1-EPC-Format``) and answers what the hub will give, or the refusal (406 for what it cannot
give, 400 for a header it cannot read). ``query_document_response`` writes an EPCIS query document of stored
events as negotiated; every EPCIS resource answering events calls it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from graph_schema.epcis.rendering import EpcFormat, query_document_xml, translate_identifiers

EPCIS_VERSION: Final = "2.0.0"
CBV_VERSION: Final = "2.0.0"
EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
JSON_LD: Final = "application/ld+json"
XML: Final = "application/xml"
NOT_ACCEPTABLE: Final = "NOT_ACCEPTABLE"
# media types the hub answers, each with the binding it means
_OFFERED: Final = {
    "application/ld+json": JSON_LD,
    "application/json": JSON_LD,
    "application/xml": XML,
    "text/xml": XML,
}
_VERSION: Final = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Answer:
    """What the hub will answer: the media type, and identifiers as asked."""

    media_type: str  # JSON_LD or XML
    epc_format: EpcFormat = EpcFormat.NO_PREFERENCE

    def headers(self) -> dict[str, str]:
        """The GS1-* headers of an answer given this way."""
        return {
            "GS1-EPCIS-Version": EPCIS_VERSION,
            "GS1-CBV-Version": CBV_VERSION,
            "GS1-EPC-Format": self.epc_format.value,
        }


def _problem(status: int, detail: str, code: str, **extra: Any) -> JSONResponse:
    title = "Not acceptable" if status == 406 else "Bad request"
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code, **extra}
    headers = {"GS1-EPCIS-Version": EPCIS_VERSION, "GS1-CBV-Version": CBV_VERSION}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def _version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def _media_type(accept: str) -> str | None:
    """The binding of the best-ranked acceptable media range of ``accept``; None when nothing offered fits."""
    candidates: list[tuple[float, int, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        pieces = [piece.strip() for piece in part.split(";")]
        media = pieces[0].lower()
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media in _OFFERED:
            chosen = _OFFERED[media]
        elif media in ("*/*", "application/*"):
            chosen = JSON_LD  # the default binding
        elif media == "text/*":
            chosen = XML
        else:
            continue
        if quality > 0:  # the highest quality wins; then the more specific range; then the first written
            candidates.append((quality, 0 if "*" in media else 1, -position, chosen))
    return max(candidates)[3] if candidates else None


def negotiate(request: Request) -> Answer | Response:
    """What the client may have, or the response refusing it."""
    headers = request.headers
    versions: dict[str, tuple[int, int, int]] = {}
    for name in ("GS1-EPCIS-Version", "GS1-EPCIS-Min", "GS1-EPCIS-Max", "GS1-CBV-Version"):
        value = headers.get(name)
        if value is None:
            continue
        parsed = _version(value)
        if parsed is None:
            return _problem(400, f"{name} must be a version such as 2.0.0, got '{value}'", "BAD_USER_INPUT", field=name)
        versions[name] = parsed
    ours = (2, 0, 0)
    asked = versions.get("GS1-EPCIS-Version")
    if asked is not None and asked[:2] != ours[:2]:
        return _problem(
            406,
            f"this hub speaks EPCIS {EPCIS_VERSION} only; GS1-EPCIS-Version {headers['GS1-EPCIS-Version']} cannot be"
            " given",
            NOT_ACCEPTABLE,
        )
    low, high = versions.get("GS1-EPCIS-Min"), versions.get("GS1-EPCIS-Max")
    if (low is not None and low > ours) or (high is not None and high < ours):
        return _problem(
            406,
            f"this hub speaks EPCIS {EPCIS_VERSION} only, outside the range asked (GS1-EPCIS-Min"
            f" {headers.get('GS1-EPCIS-Min', '-')}, GS1-EPCIS-Max {headers.get('GS1-EPCIS-Max', '-')})",
            NOT_ACCEPTABLE,
        )
    cbv = versions.get("GS1-CBV-Version")
    if cbv is not None and cbv[0] != ours[0]:
        return _problem(
            406,
            f"this hub speaks CBV {CBV_VERSION} only; GS1-CBV-Version {headers['GS1-CBV-Version']} cannot be given",
            NOT_ACCEPTABLE,
        )
    fmt_text = headers.get("GS1-EPC-Format", EpcFormat.NO_PREFERENCE.value).strip()
    try:
        fmt = EpcFormat(fmt_text)
    except ValueError:
        allowed = ", ".join(each.value for each in EpcFormat)
        return _problem(
            400, f"GS1-EPC-Format must be one of {allowed}, got '{fmt_text}'", "BAD_USER_INPUT", field="GS1-EPC-Format"
        )
    accept = headers.get("accept", "").strip()
    media_type = _media_type(accept) if accept else JSON_LD
    if media_type is None:
        return _problem(
            406,
            "this hub answers EPCIS queries as application/ld+json (or application/json) and as application/xml"
            f" (or text/xml); Accept: {accept} names none of them",
            NOT_ACCEPTABLE,
        )
    return Answer(media_type=media_type, epc_format=fmt)


def query_document_response(
    events: Sequence[dict[str, Any]],
    answer: Answer,
    *,
    query_name: str = "SimpleEventQuery",
    headers: dict[str, str] | None = None,
) -> Response:
    """An EPCIS query document of stored events (their JSON-LD), in the negotiated binding and EPC format."""
    translated = [translate_identifiers(event, answer.epc_format) for event in events]
    created = datetime.now(UTC).isoformat()
    all_headers = {**(headers or {}), **answer.headers()}
    if answer.media_type == XML:
        body = query_document_xml(translated, creation_date=created, query_name=query_name)
        return Response(body, media_type="application/xml", headers=all_headers)
    document = {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {"queryResults": {"queryName": query_name, "resultsBody": {"eventList": translated}}},
    }
    return Response(orjson.dumps(document), media_type=JSON_LD, headers=all_headers)
