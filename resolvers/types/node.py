"""Relay's Node interface: the types a client can fetch again by id alone, through ``node(id)``.

Every id keeps the value the contract gave it; the two types that had none get a typed one:
  Firm     its id (a PGLN or a short code)
  Lot      its LGTIN class URI, urn:epc:class:lgtin:<prefix>.<itemref>.<lot>
  Recall   its id, recall-<uuid>
  Site     site/<GLN>
  Product  product/<GTIN-14>
``node`` tells them apart by form (a firm code never holds ``/``; an LGTIN URI and a recall id have their own
prefixes; any other id is a firm's). Shipments are not Nodes: their ids are the shipper's own references and
may repeat another record's id.
"""

from __future__ import annotations

from typing import Final

import strawberry

SITE_ID_PREFIX: Final = "site/"
PRODUCT_ID_PREFIX: Final = "product/"
RECALL_ID_PREFIX: Final = "recall-"


@strawberry.interface(description="A record that can be fetched again by its id alone, with node(id)")
class Node:
    id: strawberry.ID
