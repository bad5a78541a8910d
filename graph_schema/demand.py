"""The demand view: open orders, their allocations, stock and sales per product and region, in one query.

Every figure adds up only what its owners share with the viewer: orders of buyers sharing ORDERS, stock of
holders sharing INVENTORY, sales of sellers sharing SALES (or sold through a channel the viewer runs), at
DETAIL or SUMMARY, and the viewer's own. Only totals leave the query, so SUMMARY is enough for all of them.
An order counts in the region of its delivery site, stock in its site's, a sale in its store's.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from graph_schema.access import Viewer
from graph_schema.db import Graph, Row
from graph_schema.orders import ACCEPTED, DELIVERED, PLACED

DEMAND: Final = (
    """
CALL () {
  MATCH (o:BulkOrder)
  WHERE (o.buyerFirmId IN $ordersDetail OR o.buyerFirmId IN $ordersSummary)
    AND ($productGtin IS NULL OR o.productGtin = $productGtin)
  MATCH (d:Site {gln: o.deliveryGln})
  WITH o, d WHERE $region IS NULL OR d.region = $region
  WITH o, d, """
    + DELIVERED
    + """ AS shipped
  WHERE shipped < o.quantity
  RETURN o.productGtin AS gtin, d.region AS region, 1 AS openOrders, o.quantity - shipped AS openQuantity,
         """
    + PLACED
    + """ AS allocated, """
    + ACCEPTED
    + """ AS accepted, 0.0 AS stock, 0.0 AS sold
  UNION ALL
  MATCH (s:Site)
  WHERE (s.firmId IN $inventoryDetail OR s.firmId IN $inventorySummary) AND ($region IS NULL OR s.region = $region)
  MATCH (l:Lot)-[h:HELD_AT]->(s)
  WHERE h.quantity > 0 AND l.status = 'ACTIVE' AND ($productGtin IS NULL OR l.productGtin = $productGtin)
  RETURN l.productGtin AS gtin, s.region AS region, 0 AS openOrders, 0.0 AS openQuantity, 0.0 AS allocated,
         0.0 AS accepted, h.quantity AS stock, 0.0 AS sold
  UNION ALL
  MATCH (sa:Sale)
  WHERE (sa.sellerFirmId IN $salesDetail OR sa.sellerFirmId IN $salesSummary OR sa.operatorFirmId = $viewerFirm)
    AND ($productGtin IS NULL OR sa.productGtin = $productGtin) AND ($region IS NULL OR sa.region = $region)
    AND ($salesFrom IS NULL OR sa.day >= $salesFrom)
  RETURN sa.productGtin AS gtin, sa.region AS region, 0 AS openOrders, 0.0 AS openQuantity, 0.0 AS allocated,
         0.0 AS accepted, 0.0 AS stock, sa.quantity AS sold
}
RETURN gtin AS productGtin, region, sum(openOrders) AS openOrders, sum(openQuantity) AS openQuantity,
       sum(allocated) AS allocated, sum(accepted) AS accepted, sum(stock) AS stock, sum(sold) AS sold
ORDER BY productGtin, region
"""
)


async def demand(
    graph: Graph, viewer: Viewer, *, product_gtin: str | None, region: str | None, sales_from: date | None
) -> list[Row]:
    """Per product and region: open orders and their open quantity, allocated and accepted, stock, and sold."""
    params = {"productGtin": product_gtin, "region": region, "salesFrom": sales_from, **viewer.shared_params()}
    return await graph.read(DEMAND, params)
