"""The lot list's arguments checked into a LotFilter, and its cursors, which carry the sort key and the LGTIN."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from graph_schema.errors import HubError
from graph_schema.identifiers import normalize_gtin, validate_gln
from graph_schema.lot_filters import LotFilter, LotSort
from graph_schema.model import LotStatus
from resolvers.types.connection import decode_cursor

MAX_LOT_NUMBER = 20  # GS1 AI (10): up to 20 characters


def _lot_number(value: str | None, *, field: str) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_LOT_NUMBER:
        raise HubError(f"{field} must be 1 to {MAX_LOT_NUMBER} characters (GS1 batch/lot number)", field=field)
    return value


def _aware(value: datetime | None, *, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HubError(f"{field} needs a time zone offset, e.g. 2030-01-01T00:00:00+09:00", field=field)
    return value


def lot_filter(
    *,
    product_gtin: str | None,
    site_gln: str | None,
    lot_number: str | None,
    lot_number_prefix: str | None,
    status: LotStatus | None,
    owner_firm_id: str | None,
    produced_from: datetime | None,
    produced_to: datetime | None,
) -> LotFilter:
    """The lots arguments, each checked (BAD_USER_INPUT naming the argument), as a LotFilter."""
    produced_from = _aware(produced_from, field="producedFrom")
    produced_to = _aware(produced_to, field="producedTo")
    if produced_from is not None and produced_to is not None and produced_to <= produced_from:
        raise HubError("producedTo must be after producedFrom", field="producedTo")
    if owner_firm_id is not None and not 1 <= len(str(owner_firm_id)) <= 100:
        raise HubError("ownerFirmId must be 1 to 100 characters", field="ownerFirmId")
    return LotFilter(
        product_gtin=normalize_gtin(product_gtin, field="productGtin") if product_gtin is not None else None,
        site_gln=validate_gln(site_gln, field="siteGln") if site_gln is not None else None,
        owner_firm_id=str(owner_firm_id) if owner_firm_id is not None else None,
        lot_number=_lot_number(lot_number, field="lotNumber"),
        lot_number_prefix=_lot_number(lot_number_prefix, field="lotNumberPrefix"),
        status=LotStatus(status).value if status is not None else None,
        produced_from=produced_from,
        produced_to=produced_to,
    )


def lot_cursor_kind(sort: LotSort) -> str:
    """Cursors of one sort are not accepted by another (``lot`` for ID, as before sorts existed)."""
    return "lot" if sort is LotSort.ID else f"lot-{sort.value.lower()}"


def lot_cursor_key(sort: LotSort, sort_key: Any, lot_id: str) -> str:
    """The text inside a lot cursor: the LGTIN for ID, else the sort key and the LGTIN as JSON."""
    return lot_id if sort is LotSort.ID else json.dumps([sort_key, lot_id], ensure_ascii=False)


def decode_lot_cursor(kind: str, cursor: str | None) -> tuple[Any, str] | None:
    """The (sort key, LGTIN) a lot cursor names, or BAD_USER_INPUT."""
    key = decode_cursor(kind, cursor)
    if key is None:
        return None
    if kind == "lot":
        return key, key
    try:
        sort_key, lot_id = json.loads(key)
    except (ValueError, TypeError):
        raise HubError("cursor is not one this API gave out for this list", field="after") from None
    if not isinstance(lot_id, str) or not isinstance(sort_key, str | int) or isinstance(sort_key, bool):
        raise HubError("cursor is not one this API gave out for this list", field="after")
    return sort_key, lot_id
