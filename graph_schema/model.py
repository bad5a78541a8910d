"""The value-chain graph: node labels, relationship types and the enumerations stored on them.

Nodes
  (:Firm {id, name, nameKo, roles})
  (:Site {gln, firmId, name, kind, region})                 (:Firm)-[:OPERATES]->(:Site)
  (:Certification {id, kind, number, firmId, siteGln, validFrom, validUntil})
                                                            (:Firm)-[:HOLDS]->(:Certification)-[:COVERS]->(:Site)
  (:Product {gtin, ownerFirmId, name, nameKo, category, uom})  (:Firm)-[:BRAND_OWNER_OF]->(:Product)
  (:Lot {id, lotNumber, productGtin, ownerFirmId, siteGln, quantity, uom, producedAt, expiresAt, status})
                                                            (:Lot)-[:OF_PRODUCT]->(:Product), (:Lot)-[:MADE_AT]->(:Site)
  (:Transformation {id, firmId, siteGln, occurredAt})       (:Lot)-[:CONSUMED_BY {quantity, uom}]->(:Transformation)
                                                            (:Transformation)-[:PRODUCED {quantity, uom}]->(:Lot)
  (:Shipment {id, fromGln, toGln, fromFirmId, toFirmId, shippedAt, receivedAt, docType, docNumber})
                                                            (:Shipment)-[:FROM]->(:Site), (:Shipment)-[:TO]->(:Site),
                                                            (:Shipment)-[:CARRIES {quantity, uom}]->(:Lot)
  Inventory is a relationship: (:Lot)-[:HELD_AT {quantity, uom, asOf, firmId}]->(:Site)
  (:SalesChannel {id, operatorFirmId, name, kind})          (:Firm)-[:RUNS]->(:SalesChannel),
                                                            (:Product)-[:LISTED_ON {firmId}]->(:SalesChannel),
                                                            (:Site)-[:SELLS_THROUGH]->(:SalesChannel)
  (:CCP {id, siteGln, firmId, code, name, hazard, limitLow, limitHigh, unit, monitoringIntervalSeconds, devices,
         productGtins})                                      (:Site)-[:HAS_CCP]->(:CCP)
  (:Deviation {id, ccpId, siteGln, firmId, kind, status, openedAt, closedAt, windowStart, windowEnd, worstValue,
               hold})                                       (:CCP)-[:HAS_DEVIATION]->(:Deviation),
                                                            (:Deviation)-[:DURING {held, priorStatus}]->(:Lot)
  (:CorrectiveAction {id, deviationId, action, takenAt, by, firmId, recordedAt})
                                                            (:Deviation)-[:CORRECTED_BY]->(:CorrectiveAction)
  (:Recall {id, coordinatorFirmId, reason, recallClass, status, declaredAt, closedAt, hold})
                                                            (:Recall)-[:RECALLS]->(:Lot),
                                                            (:Recall)-[:AFFECTS {direction, depth, held,
                                                                                 priorStatus, joinedAt,
                                                                                 notice, noticeKey}]->(:Lot)
                                                            (joinedAt: a lot made from a held lot after declaration;
                                                             notice PENDING until its RECALL_UPDATED is published)
                                                            (:Recall)-[:ACKNOWLEDGED_BY {at, note, by}]->(:Firm)
  (:RecallDisposition {id, recallId, firmId, lotId, siteGln, quantity, uom, disposition, at, note, by})
                                                            (:Recall)-[:HAS_DISPOSITION]->(:RecallDisposition)
                                                            -[:OF_LOT]->(:Lot)   append-only consignee reports
  (:SharingGrant {id, ownerFirmId, scope, level, toFirmId, toRole, toCluster, until})
  (:EpcisEvent {eventId, eventHash, eventType, eventTime, action, bizStep, bizLocation, siteGln, siteFirmId,
                capturedBy, captureId, epcs, epcClasses, anyEpcClasses, json})   (:EpcisEvent)-[:CONCERNS]->(:Lot)
                + what the SimpleEventQuery filters on: readPoint, recordTime, disposition, terms, facets, fieldNames,
                numberKeys/numbers, timeKeys/times, persistentSet/Unset, errorDeclarationTime, errorReason,
                readPointLink, bizLocationLink (Digital Links, as master data is keyed), queryFields (the layout's
                version: graph_schema.epcis.backfill brings older events up to it)
  (:EpcisEvent)-[:HAS_TERM]->(:EpcisTerm {key})             "<kind> <value>": epc, epcClass, bizTransaction, ...
  (:EpcisLocation {digitalLink, id, gln, extension, siteGln, firmId, name, streetAddressOne..., countryCode, latitude,
                   longitude, site, sst, ssa, ssd, attributesJson, attributeNames, attributeTexts,
                   vocabularyTypes, updatedAt})
                                                            EPCIS master data of a site (extension 0) or sub-site:
                                                            (:EpcisLocation)-[:AT_SITE]->(:Site),
                                                            (:EpcisLocation)-[:HAS_CHILD]->(:EpcisLocation)
  (:EpcisParty {digitalLink, id, gln, firmId, name, ..., attributesJson, updatedAt})
                                                            (:EpcisParty)-[:DESCRIBES]->(:Firm)
  (:Container {id})-[:CONTAINS {eventId}]->(:Lot)           AggregationEvents: pallets, cases (parentID)
  (:BusinessDocument {id, type})-[:REFERS_TO]->(:Lot)       TransactionEvents: purchase orders, despatch advice
                                                            (:Firm)-[:GRANTS]->(:SharingGrant)
  SalesChannel.openToRoles, (:SalesChannel)-[:OPEN_TO]->(:Firm)   who else may list and sell on a channel
  (:Sale {id, channelId, sellerFirmId, operatorFirmId, productGtin, day, quantity, uom, amount, currency, storeGln})
                                                            (:Sale)-[:SOLD_ON]->(:SalesChannel)
  (:Capacity {id, firmId, siteGln, category, quantityPerDay, uom})  (:Site)-[:HAS_CAPACITY]->(:Capacity)
  (:BulkOrder {id, buyerFirmId, productGtin, quantity, uom, dueAt, deliveryGln, smartHaccpRequired, declinedBy})
                                                            (:Firm)-[:PLACED]->(:BulkOrder)-[:DELIVER_TO]->(:Site)
  (:Allocation {id, orderId, firmId, siteGln, capacityId, quantity, fromStock, fromCapacity, status, reason, ...})
                                                            (:BulkOrder)-[:HAS_ALLOCATION]->(:Allocation),
                                                            (:Lot)-[:FULFILS]->(:Allocation)

Lots record their owner firm, product and site as properties as well as relationships: the owner is what
every permission filter tests, and an indexed property keeps that test a lookup instead of an expansion.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Label(StrEnum):
    FIRM = "Firm"
    SITE = "Site"
    CERTIFICATION = "Certification"
    PRODUCT = "Product"
    LOT = "Lot"
    TRANSFORMATION = "Transformation"
    SHIPMENT = "Shipment"
    SALES_CHANNEL = "SalesChannel"
    CCP = "CCP"
    RECALL = "Recall"
    RECALL_DISPOSITION = "RecallDisposition"
    SHARING_GRANT = "SharingGrant"
    EPCIS_EVENT = "EpcisEvent"
    EPCIS_TERM = "EpcisTerm"  # one identifier the SimpleEventQuery matches events by (graph_schema.epcis.facets)
    CONTAINER = "Container"
    BUSINESS_DOCUMENT = "BusinessDocument"
    SALE = "Sale"
    CAPACITY = "Capacity"
    BULK_ORDER = "BulkOrder"
    ALLOCATION = "Allocation"
    DEVIATION = "Deviation"
    CORRECTIVE_ACTION = "CorrectiveAction"
    EPCIS_LOCATION = "EpcisLocation"  # EPCIS master data of a site or sub-site
    EPCIS_PARTY = "EpcisParty"  # EPCIS master data of a party (PGLN)


class Rel(StrEnum):
    OPERATES = "OPERATES"
    HOLDS = "HOLDS"
    COVERS = "COVERS"
    BRAND_OWNER_OF = "BRAND_OWNER_OF"
    OF_PRODUCT = "OF_PRODUCT"
    MADE_AT = "MADE_AT"
    CONSUMED_BY = "CONSUMED_BY"
    PRODUCED = "PRODUCED"
    FROM = "FROM"
    TO = "TO"
    CARRIES = "CARRIES"
    HELD_AT = "HELD_AT"
    RUNS = "RUNS"
    LISTED_ON = "LISTED_ON"
    SELLS_THROUGH = "SELLS_THROUGH"
    HAS_CCP = "HAS_CCP"
    RECALLS = "RECALLS"
    ACKNOWLEDGED_BY = "ACKNOWLEDGED_BY"
    HAS_DISPOSITION = "HAS_DISPOSITION"
    OF_LOT = "OF_LOT"
    GRANTS = "GRANTS"
    CONCERNS = "CONCERNS"
    CONTAINS = "CONTAINS"
    REFERS_TO = "REFERS_TO"
    OPEN_TO = "OPEN_TO"
    SOLD_ON = "SOLD_ON"
    HAS_CAPACITY = "HAS_CAPACITY"
    PLACED = "PLACED"
    DELIVER_TO = "DELIVER_TO"
    HAS_ALLOCATION = "HAS_ALLOCATION"
    FULFILS = "FULFILS"
    HAS_DEVIATION = "HAS_DEVIATION"
    DURING = "DURING"  # a deviation to a lot produced within its window
    CORRECTED_BY = "CORRECTED_BY"
    HAS_TERM = "HAS_TERM"  # an EPCIS event to the identifiers it names
    AT_SITE = "AT_SITE"  # an EPCIS location to the site it is (or is part of)
    HAS_CHILD = "HAS_CHILD"  # an EPCIS location to a location below it (master data children)
    DESCRIBES = "DESCRIBES"  # EPCIS party master data to its firm


class FirmRole(StrEnum):
    ANCHOR = "ANCHOR"
    OEM = "OEM"
    FARM = "FARM"
    PLANT = "PLANT"
    DISTRIBUTOR = "DISTRIBUTOR"
    RETAILER = "RETAILER"
    MARKETER = "MARKETER"
    AGENCY = "AGENCY"


class SiteKind(StrEnum):
    FARM = "FARM"
    PLANT = "PLANT"
    WAREHOUSE = "WAREHOUSE"
    DC = "DC"
    STORE = "STORE"
    OTHER = "OTHER"


class LotStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ON_HOLD = "ON_HOLD"
    RECALLED = "RECALLED"


class CertificationKind(StrEnum):
    GAP = "GAP"
    HACCP = "HACCP"
    SMART_HACCP = "SMART_HACCP"


class SalesChannelKind(StrEnum):
    ONLINE_MARKETPLACE = "ONLINE_MARKETPLACE"
    RETAIL_CHAIN = "RETAIL_CHAIN"
    INSTITUTIONAL_CATERING = "INSTITUTIONAL_CATERING"
    EXPORT = "EXPORT"


class TraceDirection(StrEnum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"


# Natural keys: every write is idempotent on these.
NATURAL_KEYS: Final[dict[Label, str]] = {
    Label.FIRM: "id",
    Label.SITE: "gln",
    Label.CERTIFICATION: "id",
    Label.PRODUCT: "gtin",
    Label.LOT: "id",
    Label.TRANSFORMATION: "id",
    Label.SHIPMENT: "id",
    Label.SALES_CHANNEL: "id",
    Label.CCP: "id",
    Label.RECALL: "id",
    Label.RECALL_DISPOSITION: "id",
    Label.SHARING_GRANT: "id",
    Label.EPCIS_EVENT: "eventId",
    Label.EPCIS_TERM: "key",
    Label.CONTAINER: "id",
    Label.BUSINESS_DOCUMENT: "id",
    Label.SALE: "id",
    Label.CAPACITY: "id",
    Label.BULK_ORDER: "id",
    Label.ALLOCATION: "id",
    Label.DEVIATION: "id",
    Label.CORRECTIVE_ACTION: "id",
    Label.EPCIS_LOCATION: "digitalLink",
    Label.EPCIS_PARTY: "digitalLink",
}

# Several properties looked up together: EPCIS names a lot by GTIN and lot number (a Digital Link carries no
# company prefix length, so the LGTIN URI cannot be rebuilt from it).
# A site's lots by LGTIN: the lot list's page of a site read in the index's order (graph_schema.lot_filters).
COMPOSITE_INDEXED: Final[tuple[tuple[Label, tuple[str, ...]], ...]] = (
    (Label.LOT, ("productGtin", "lotNumber")),
    (Label.LOT, ("siteGln", "id")),
)

# Relationship properties looked up by sweeps: the joins to an open recall whose holders are not told yet.
RELATIONSHIP_INDEXED: Final[tuple[tuple[str, str], ...]] = (("AFFECTS", "notice"),)

# Properties looked up by filters, permission tests and loaders.
INDEXED: Final[tuple[tuple[Label, str], ...]] = (
    (Label.SITE, "firmId"),
    (Label.PRODUCT, "ownerFirmId"),
    (Label.LOT, "ownerFirmId"),
    (Label.LOT, "productGtin"),
    (Label.LOT, "siteGln"),
    (Label.LOT, "status"),
    (Label.LOT, "lotNumber"),  # exact and prefix (STARTS WITH) lookups by the number printed on a pack
    (Label.LOT, "producedAt"),
    (Label.SHIPMENT, "fromFirmId"),
    (Label.SHIPMENT, "toFirmId"),
    (Label.SHIPMENT, "fromGln"),
    (Label.SHIPMENT, "toGln"),
    (Label.SHIPMENT, "shippedAt"),
    (Label.CERTIFICATION, "firmId"),
    (Label.SHARING_GRANT, "ownerFirmId"),
    (Label.SHARING_GRANT, "toFirmId"),
    (Label.SHARING_GRANT, "toRole"),
    (Label.SHARING_GRANT, "toCluster"),
    (Label.RECALL, "status"),
    (Label.RECALL, "coordinatorFirmId"),
    (Label.EPCIS_EVENT, "eventTime"),
    (Label.EPCIS_EVENT, "bizLocation"),
    (Label.EPCIS_EVENT, "readPoint"),
    (Label.EPCIS_EVENT, "recordTime"),
    (Label.EPCIS_EVENT, "capturedBy"),
    (Label.SALES_CHANNEL, "operatorFirmId"),
    (Label.SALE, "sellerFirmId"),
    (Label.SALE, "operatorFirmId"),
    (Label.CAPACITY, "category"),
    (Label.BULK_ORDER, "buyerFirmId"),
    (Label.ALLOCATION, "firmId"),
    (Label.ALLOCATION, "capacityId"),
    (Label.CCP, "siteGln"),
    (Label.CCP, "firmId"),
    (Label.DEVIATION, "ccpId"),
    (Label.DEVIATION, "siteGln"),
    (Label.DEVIATION, "status"),
    (Label.EPCIS_LOCATION, "siteGln"),
    (Label.EPCIS_LOCATION, "id"),
    (Label.EPCIS_PARTY, "firmId"),
)


# Full-text indexes over names (Korean and English) for search: (index name, label, properties). Neo4j 5.26
# offers no Korean morphological analyzer (db.index.fulltext.listAvailableAnalyzers: no nori), so the names
# are cut by the ``cjk`` analyzer (Lucene's CJKAnalyzer): Hangul, Han and kana runs as overlapping bigrams
# (부침두부 -> 부침 침두 두부, so 두부 finds it without a dictionary of compounds), Latin words as
# lower-cased tokens with English stop words dropped.
FULLTEXT_ANALYZER: Final = "cjk"
FULLTEXT_INDEXED: Final[tuple[tuple[str, Label, tuple[str, ...]], ...]] = (
    ("firm_names", Label.FIRM, ("name", "nameKo")),
    ("site_names", Label.SITE, ("name",)),
    ("product_names", Label.PRODUCT, ("name", "nameKo")),
)


class SharingScope(StrEnum):
    TRACE = "TRACE"
    INVENTORY = "INVENTORY"
    SALES = "SALES"
    CCP = "CCP"
    ORDERS = "ORDERS"


class SharingLevel(StrEnum):
    SUMMARY = "SUMMARY"
    DETAIL = "DETAIL"


class RecallClass(StrEnum):
    I = "I"  # noqa: E741 (FDA's class names)
    II = "II"
    III = "III"


class RecallDispositionKind(StrEnum):
    """What a consignee did with a quantity of a recalled lot."""

    REMOVED = "REMOVED"  # taken off sale and out of use, still on hand
    DESTROYED = "DESTROYED"
    RETURNED = "RETURNED"  # sent back to the supplier or the recalling firm


class RecallStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class AllocationStatus(StrEnum):
    PROPOSED = "PROPOSED"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"


class OrderStatus(StrEnum):
    OPEN = "OPEN"  # not yet shipped in full to the delivery site
    FULFILLED = "FULFILLED"


class LotHold(StrEnum):
    """What a declared recall does to the recalled lots and every lot downstream of them."""

    ON_HOLD = "ON_HOLD"  # released back to ACTIVE when the last open recall holding the lot closes
    RECALLED = "RECALLED"  # final: closing the recall leaves the lot RECALLED


class DeviationKind(StrEnum):
    OUT_OF_LIMITS = "OUT_OF_LIMITS"  # a reading outside the CCP's critical limits
    MISSED_MONITORING = "MISSED_MONITORING"  # the CCP silent past its monitoring interval and the grace


class DeviationStatus(StrEnum):
    OPEN = "OPEN"  # until a corrective action closes it
    CLOSED = "CLOSED"
