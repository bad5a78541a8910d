"""Sales channels shared across the cluster: who may sell through them, what is listed, and what was sold.

A retailer or marketer runs a channel and opens it to chosen member firms (``OPEN_TO``) or to every firm of a
role (``openToRoles``). A firm may sell through the channels it runs and those opened to it; it lists its
products there (``LISTED_ON {firmId}``) and records what it sold, one figure per channel, product, day and
store. A sale is the seller's record: the seller and the channel's operator see it in full, owners' SALES
grants open it to others at DETAIL (records) or SUMMARY (totals per channel and product only).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, Final, LiteralString, NoReturn

from pydantic import Field, model_validator

from graph_schema.access import Viewer
from graph_schema.db import Graph, Row, checked_write
from graph_schema.errors import Conflict, Forbidden, HubError, NotFound
from graph_schema.records import Code, Gln, Gtin, Record, Uom

# --- who may sell through a channel ------------------------------------------------------------------------


def open_to(channel: LiteralString, firm: LiteralString, roles: LiteralString) -> LiteralString:
    """Cypher true when ``firm`` (of ``roles``) may sell through ``channel``: it runs it or it was opened to it."""
    return (
        f"({channel}.operatorFirmId = {firm}"
        f" OR EXISTS {{ MATCH ({channel})-[:OPEN_TO]->(:Firm {{id: {firm}}}) }}"
        f" OR any(role IN coalesce({channel}.openToRoles, []) WHERE role IN {roles}))"
    )


# The operator sees whom its channel is open to; the firms it is open to see the channel and its listings.
CHANNEL_FIELDS: Final = """c {.id, .name, .kind, .operatorFirmId,
  openToFirmIds: CASE WHEN c.operatorFirmId = $viewerFirm
                      THEN COLLECT { MATCH (c)-[:OPEN_TO]->(f:Firm) RETURN f.id ORDER BY f.id } END,
  openToRoles: CASE WHEN c.operatorFirmId = $viewerFirm THEN coalesce(c.openToRoles, []) END,
  storeGlns: COLLECT { MATCH (s:Site)-[:SELLS_THROUGH]->(c) RETURN s.gln ORDER BY s.gln },
  listings: COLLECT { MATCH (p:Product)-[li:LISTED_ON]->(c)
                      RETURN {productGtin: p.gtin, firmId: li.firmId} ORDER BY p.gtin, li.firmId }}"""

# Channels a firm may sell through: those it runs (an index lookup) and those opened to it or its roles.
VISIBLE_CHANNELS: Final = """
CALL () {
  MATCH (c:SalesChannel {operatorFirmId: $viewerFirm}) RETURN c
  UNION
  MATCH (c:SalesChannel)-[:OPEN_TO]->(:Firm {id: $viewerFirm}) RETURN c
  UNION
  MATCH (c:SalesChannel) WHERE any(role IN coalesce(c.openToRoles, []) WHERE role IN $firmRoles) RETURN c
}
WITH c
"""

LIST_CHANNELS: Final = (
    VISIBLE_CHANNELS
    + """WHERE $after IS NULL OR c.id > $after
WITH c ORDER BY c.id LIMIT $limit
RETURN """
    + CHANNEL_FIELDS
    + " AS channel"
)
COUNT_CHANNELS: Final = VISIBLE_CHANNELS + "RETURN count(c) AS total"

CHANNEL_BY_ID: Final = (
    """
MATCH (c:SalesChannel {id: $id})
WHERE """
    + open_to("c", "$viewerFirm", "$firmRoles")
    + """
RETURN """
    + CHANNEL_FIELDS
    + " AS channel"
)


async def list_channels(
    graph: Graph, viewer: Viewer, *, firm_roles: Sequence[str], after: str | None, limit: int
) -> list[Row]:
    """A page of the channels the viewer's firm may sell through, ordered by id."""
    params = {"viewerFirm": viewer.firm_id, "firmRoles": list(firm_roles), "after": after, "limit": limit}
    return [row["channel"] for row in await graph.read(LIST_CHANNELS, params)]


async def count_channels(graph: Graph, viewer: Viewer, *, firm_roles: Sequence[str]) -> int:
    """How many channels the viewer's firm may sell through."""
    params = {"viewerFirm": viewer.firm_id, "firmRoles": list(firm_roles)}
    return int((await graph.read(COUNT_CHANNELS, params))[0]["total"])


async def channel_by_id(graph: Graph, viewer: Viewer, *, firm_roles: Sequence[str], channel_id: str) -> Row | None:
    """One channel, if the viewer's firm may sell through it."""
    params = {"viewerFirm": viewer.firm_id, "firmRoles": list(firm_roles), "id": channel_id}
    rows = await graph.read(CHANNEL_BY_ID, params)
    return rows[0]["channel"] if rows else None


# --- running a channel ---------------------------------------------------------------------------------------

CHECK_CHANNEL: Final = """
WITH $row AS row
OPTIONAL MATCH (existing:SalesChannel {id: row.id})
CALL (row) {
  UNWIND row.storeGlns AS gln
  OPTIONAL MATCH (s:Site {gln: gln})
  WITH gln, s WHERE s IS NULL OR s.firmId <> row.operatorFirmId
  RETURN collect(gln) AS badStores
}
WITH row, existing, badStores
WHERE (existing IS NOT NULL AND existing.operatorFirmId <> row.operatorFirmId) OR size(badStores) > 0
RETURN existing IS NOT NULL AND existing.operatorFirmId <> row.operatorFirmId AS taken, badStores
"""

# Written again, a channel keeps whom it was opened to and what is listed on it.
WRITE_CHANNEL: Final = """
WITH $row AS row
MATCH (f:Firm {id: row.operatorFirmId})
MERGE (c:SalesChannel {id: row.id})
SET c.operatorFirmId = row.operatorFirmId, c.name = row.name, c.kind = row.kind,
    c.openToRoles = coalesce(c.openToRoles, [])
MERGE (f)-[:RUNS]->(c)
WITH row, c
CALL (row, c) {
  UNWIND row.storeGlns AS gln
  MATCH (s:Site {gln: gln})
  MERGE (s)-[:SELLS_THROUGH]->(c)
  RETURN count(*) AS stores
}
RETURN c.id AS id
"""


async def create_channel(graph: Graph, row: dict[str, Any]) -> None:
    """Create or rename a channel of its operator, with the operator's own stores (a SalesChannelRecord row)."""

    def reject(bad: Row) -> NoReturn:
        if bad["taken"]:
            raise Conflict(f"sales channel id {row['id']!r} is used by another firm", field="input.id")
        raise Forbidden(f"store {bad['badStores'][0]} is not a registered site of your firm", field="input.storeGlns")

    await checked_write(graph, check=CHECK_CHANNEL, write=WRITE_CHANNEL, params={"row": row}, reject=reject)


CHECK_OPENING: Final = """
OPTIONAL MATCH (c:SalesChannel {id: $id, operatorFirmId: $operatorFirmId})
CALL () {
  UNWIND $firmIds AS firmId
  OPTIONAL MATCH (f:Firm {id: firmId})
  WITH firmId, f WHERE f IS NULL
  RETURN collect(firmId) AS unknownFirms
}
WITH c, unknownFirms WHERE c IS NULL OR size(unknownFirms) > 0
RETURN c IS NULL AS missingChannel, unknownFirms
"""

OPEN_CHANNEL: Final = """
MATCH (c:SalesChannel {id: $id, operatorFirmId: $operatorFirmId})
SET c.openToRoles = reduce(roles = coalesce(c.openToRoles, []), role IN $roles |
                           CASE WHEN role IN roles THEN roles ELSE roles + role END)
WITH c
CALL (c) {
  UNWIND $firmIds AS firmId
  MATCH (f:Firm {id: firmId}) WHERE f.id <> c.operatorFirmId
  MERGE (c)-[:OPEN_TO]->(f)
  RETURN count(*) AS opened
}
RETURN c.id AS id
"""

# Closing also takes down the listings of firms that may no longer sell through the channel.
CLOSE_CHANNEL: Final = (
    """
MATCH (c:SalesChannel {id: $id, operatorFirmId: $operatorFirmId})
SET c.openToRoles = [role IN coalesce(c.openToRoles, []) WHERE NOT role IN $roles]
WITH c
CALL (c) {
  OPTIONAL MATCH (c)-[o:OPEN_TO]->(f:Firm) WHERE f.id IN $firmIds
  DELETE o
  RETURN count(o) AS closed
}
CALL (c) {
  MATCH (:Product)-[li:LISTED_ON]->(c)
  OPTIONAL MATCH (seller:Firm {id: li.firmId})
  WITH li, seller WHERE seller IS NULL OR NOT """
    + open_to("c", "seller.id", "coalesce(seller.roles, [])")
    + """
  DELETE li
  RETURN count(*) AS unlisted
}
RETURN c.id AS id
"""
)


def _channel_rejection(channel_id: str) -> Any:
    def reject(bad: Row) -> NoReturn:
        if bad["missingChannel"]:
            raise NotFound(f"no sales channel {channel_id!r} run by your firm", field="input.channelId")
        raise NotFound(f"firm {bad['unknownFirms'][0]!r} is not a member of the cluster", field="input.firmIds")

    return reject


async def open_channel(
    graph: Graph, *, channel_id: str, operator_firm_id: str, firm_ids: Sequence[str], roles: Sequence[str]
) -> None:
    """Open the operator's channel to member firms and to every firm of some roles."""
    params = {"id": channel_id, "operatorFirmId": operator_firm_id, "firmIds": list(firm_ids), "roles": list(roles)}
    await checked_write(
        graph, check=CHECK_OPENING, write=OPEN_CHANNEL, params=params, reject=_channel_rejection(channel_id)
    )


async def close_channel(
    graph: Graph, *, channel_id: str, operator_firm_id: str, firm_ids: Sequence[str], roles: Sequence[str]
) -> None:
    """Close the operator's channel to firms and roles; listings of firms that may no longer sell there go too."""
    params = {"id": channel_id, "operatorFirmId": operator_firm_id, "firmIds": list(firm_ids), "roles": list(roles)}
    await checked_write(
        graph, check=CHECK_OPENING, write=CLOSE_CHANNEL, params=params, reject=_channel_rejection(channel_id)
    )


# --- listings ------------------------------------------------------------------------------------------------

# A firm lists products it owns the brand of or has made lots of, on channels it may sell through.
CHECK_LISTINGS: Final = (
    """
MATCH (me:Firm {id: $firmId})
OPTIONAL MATCH (c:SalesChannel {id: $channelId})
WITH me, c, c IS NOT NULL AND """
    + open_to("c", "me.id", "coalesce(me.roles, [])")
    + """ AS mayUse
CALL (me) {
  UNWIND range(0, size($gtins) - 1) AS i
  OPTIONAL MATCH (p:Product {gtin: $gtins[i]})
  WITH i, p
  WHERE p IS NULL OR NOT (p.ownerFirmId = me.id OR EXISTS { MATCH (:Lot {productGtin: p.gtin, ownerFirmId: me.id}) })
  RETURN collect({i: i, missing: p IS NULL}) AS badProducts
}
WITH mayUse, badProducts WHERE NOT mayUse OR size(badProducts) > 0
RETURN mayUse, badProducts
"""
)

WRITE_LISTINGS: Final = """
MATCH (c:SalesChannel {id: $channelId})
UNWIND $gtins AS gtin
MATCH (p:Product {gtin: gtin})
MERGE (p)-[:LISTED_ON {firmId: $firmId}]->(c)
RETURN count(*) AS listed
"""

DELETE_LISTINGS: Final = """
MATCH (c:SalesChannel {id: $channelId})
UNWIND $gtins AS gtin
MATCH (:Product {gtin: gtin})-[li:LISTED_ON {firmId: $firmId}]->(c)
DELETE li
RETURN count(*) AS unlisted
"""


async def list_products(graph: Graph, *, firm_id: str, channel_id: str, gtins: Sequence[str]) -> None:
    """List the firm's products on a channel it may sell through (idempotent)."""
    params = {"firmId": firm_id, "channelId": channel_id, "gtins": list(gtins)}

    def reject(bad: Row) -> NoReturn:
        if not bad["mayUse"]:
            raise NotFound(f"sales channel {channel_id!r} is not one your firm may sell through", field="channelId")
        first = bad["badProducts"][0]
        where = f"productGtins[{first['i']}]"
        if first["missing"]:
            raise NotFound(f"{where}: product {gtins[first['i']]} is not registered", field=where)
        raise Forbidden(
            f"{where}: your firm neither owns the brand of product {gtins[first['i']]} nor has made lots of it",
            field=where,
        )

    await checked_write(graph, check=CHECK_LISTINGS, write=WRITE_LISTINGS, params=params, reject=reject)


async def unlist_products(graph: Graph, *, firm_id: str, channel_id: str, gtins: Sequence[str]) -> int:
    """Take the firm's own listings of these products off a channel; returns how many there were."""
    rows = await graph.write(DELETE_LISTINGS, {"firmId": firm_id, "channelId": channel_id, "gtins": list(gtins)})
    return int(rows[0]["unlisted"]) if rows else 0


# --- sales -----------------------------------------------------------------------------------------------------

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class SaleRecord(Record):
    """What one seller sold of one product through one channel on one day (at one store, when given)."""

    channel_id: Code = Field(alias="channelId")
    seller_firm_id: Code = Field(alias="sellerFirmId")
    product_gtin: Gtin = Field(alias="productGtin")
    day: date
    quantity: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    uom: Uom
    amount: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    currency: Currency | None = None
    store_gln: Gln | None = Field(default=None, alias="storeGln")

    @model_validator(mode="after")
    def _priced(self) -> SaleRecord:
        if self.amount is not None and self.currency is None:
            raise ValueError("an amount needs its currency (ISO 4217, e.g. KRW)")
        return self

    @property
    def id(self) -> str:
        """The natural key: recording the same seller, channel, product, day and store again replaces the figure."""
        return "|".join(
            (self.channel_id, self.seller_firm_id, self.product_gtin, self.day.isoformat(), self.store_gln or "")
        )

    def row(self) -> dict[str, Any]:
        return {**super().row(), "id": self.id}


# The recorder is the seller or the channel's operator (sell-through reports); the seller must still be
# allowed on the channel and have the product listed there; a store must be one the channel sells through.
CHECK_SALES: Final = (
    """
UNWIND range(0, size($rows) - 1) AS i
WITH i, $rows[i] AS row
OPTIONAL MATCH (c:SalesChannel {id: row.channelId})
OPTIONAL MATCH (seller:Firm {id: row.sellerFirmId})
OPTIONAL MATCH (p:Product {gtin: row.productGtin})
OPTIONAL MATCH (store:Site {gln: row.storeGln})
WITH i, row, c, seller, p, store,
     c IS NOT NULL AND (c.operatorFirmId = $firmId OR (row.sellerFirmId = $firmId AND seller IS NOT NULL AND """
    + open_to("c", "seller.id", "coalesce(seller.roles, [])")
    + """)) AS visible,
     c IS NOT NULL AND seller IS NOT NULL AND """
    + open_to("c", "seller.id", "coalesce(seller.roles, [])")
    + """ AS sellerMay
WITH i, row, c, p, store, visible, sellerMay,
     p IS NOT NULL AND EXISTS { MATCH (p)-[:LISTED_ON {firmId: row.sellerFirmId}]->(c) } AS listed,
     row.storeGln IS NULL OR (store IS NOT NULL AND EXISTS { MATCH (store)-[:SELLS_THROUGH]->(c) }) AS storeOk
WHERE NOT visible OR NOT sellerMay OR p IS NULL OR NOT listed OR p.uom <> row.uom OR NOT storeOk
RETURN i, row.channelId AS channelId, row.productGtin AS productGtin, row.sellerFirmId AS sellerFirmId,
       visible, sellerMay, p IS NULL AS missingProduct, listed, p.uom AS productUom, storeOk
ORDER BY i
"""
)

WRITE_SALES: Final = """
UNWIND $rows AS row
MATCH (c:SalesChannel {id: row.channelId})
MERGE (sa:Sale {id: row.id})
SET sa.channelId = row.channelId, sa.sellerFirmId = row.sellerFirmId, sa.operatorFirmId = c.operatorFirmId,
    sa.productGtin = row.productGtin, sa.day = date(row.day), sa.quantity = row.quantity, sa.uom = row.uom,
    sa.amount = row.amount, sa.currency = row.currency, sa.storeGln = row.storeGln,
    sa.region = COLLECT { MATCH (s:Site {gln: row.storeGln}) RETURN s.region }[0],
    sa.recordedBy = $firmId, sa.recordedAt = $now
MERGE (sa)-[:SOLD_ON]->(c)
RETURN count(sa) AS written
"""


async def record_sales(
    graph: Graph, records: Sequence[SaleRecord], *, recorder_firm_id: str, now: datetime, path: str = "input"
) -> int:
    """Record sales figures, all or none; the recorder is each figure's seller or the channel's operator."""
    ids = [r.id for r in records]
    for index, key in enumerate(ids):
        if key in ids[:index]:
            raise HubError(f"{path}[{index}]: the same figure appears twice in this batch", field=f"{path}[{index}]")
    params = {"rows": [r.row() for r in records], "firmId": recorder_firm_id, "now": now}

    def reject(bad: Row) -> NoReturn:
        at = f"{path}[{bad['i']}]"
        if not bad["visible"] and bad["sellerFirmId"] == recorder_firm_id:
            raise NotFound(
                f"{at}: sales channel {bad['channelId']!r} is not one your firm may sell through",
                field=f"{at}.channelId",
            )
        if not bad["visible"]:
            raise Forbidden(
                f"{at}: only the seller or the channel's operator records sales for {bad['sellerFirmId']!r}",
                field=f"{at}.sellerFirmId",
            )
        if not bad["sellerMay"]:
            raise Forbidden(
                f"{at}: firm {bad['sellerFirmId']!r} may not sell through channel {bad['channelId']!r}",
                field=f"{at}.sellerFirmId",
            )
        if bad["missingProduct"]:
            raise NotFound(f"{at}: product {bad['productGtin']} is not registered", field=f"{at}.productGtin")
        if not bad["listed"]:
            raise Conflict(
                f"{at}: product {bad['productGtin']} is not listed on {bad['channelId']!r} by {bad['sellerFirmId']!r};"
                " list it first",
                field=f"{at}.productGtin",
            )
        if not bad["storeOk"]:
            raise NotFound(
                f"{at}: the store does not sell through channel {bad['channelId']!r}", field=f"{at}.storeGln"
            )
        raise HubError(f"{at}: product {bad['productGtin']} is sold in {bad['productUom']}", field=f"{at}.uom")

    written = await checked_write(graph, check=CHECK_SALES, write=WRITE_SALES, params=params, reject=reject)
    return int(written[0]["written"])


SALE_FILTER: Final = (
    "($channelId IS NULL OR sa.channelId = $channelId) AND ($productGtin IS NULL OR sa.productGtin = $productGtin)"
    " AND ($from IS NULL OR sa.day >= $from) AND ($to IS NULL OR sa.day <= $to)"
)

# DETAIL: the seller's own figures, those of sellers sharing SALES at DETAIL, and every figure of a channel the
# viewer runs. SUMMARY: sellers sharing SALES at SUMMARY add to totals per channel, product, unit and currency.
SALES_FIGURES: Final = (
    """
CALL () {
  MATCH (sa:Sale) WHERE sa.sellerFirmId IN $salesDetail AND """
    + SALE_FILTER
    + """
  RETURN sa
  UNION
  MATCH (sa:Sale {operatorFirmId: $viewerFirm}) WHERE """
    + SALE_FILTER
    + """
  RETURN sa
}
WITH collect(sa {.channelId, .productGtin, .sellerFirmId, .day, .storeGln, .region, .quantity, .uom, .amount,
                 .currency, level: 'DETAIL', recordCount: 1, firstDay: sa.day, lastDay: sa.day}) AS detail
CALL () {
  MATCH (sa:Sale) WHERE sa.sellerFirmId IN $salesSummary AND sa.operatorFirmId <> $viewerFirm AND """
    + SALE_FILTER
    + """
  WITH sa.channelId AS channelId, sa.productGtin AS productGtin, sa.uom AS uom, sa.currency AS currency,
       sum(sa.quantity) AS quantity, sum(sa.amount) AS amount, count(*) AS recordCount,
       min(sa.day) AS firstDay, max(sa.day) AS lastDay
  RETURN collect({level: 'SUMMARY', channelId: channelId, productGtin: productGtin, sellerFirmId: null, day: null,
                  storeGln: null, region: null, quantity: quantity, uom: uom,
                  amount: CASE WHEN currency IS NULL THEN null ELSE amount END, currency: currency,
                  recordCount: recordCount, firstDay: firstDay, lastDay: lastDay}) AS summary
}
UNWIND detail + summary AS figure
RETURN figure
ORDER BY figure.channelId, figure.productGtin, figure.level, figure.day, figure.sellerFirmId, figure.storeGln
"""
)


async def sales_figures(
    graph: Graph,
    viewer: Viewer,
    *,
    channel_id: str | None,
    product_gtin: str | None,
    day_from: date | None,
    day_to: date | None,
) -> list[Row]:
    """Sales the viewer may see: records in detail, totals per channel and product from SUMMARY sharers."""
    params = {
        "channelId": channel_id,
        "productGtin": product_gtin,
        "from": day_from,
        "to": day_to,
        **viewer.shared_params(),
    }
    return [row["figure"] for row in await graph.read(SALES_FIGURES, params)]
