"""What a caller may see, as Cypher parameters: decided in auth/, enforced inside every query here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

# A lot is shown in detail to a viewer who owns it (or whose owner shares TRACE with it), and to the
# firm it was shipped to: one step back (EU 178/2002 art. 18) needs no grant.
LOT_IN_DETAIL: Final = (
    "(l.ownerFirmId IN $detailFirms OR EXISTS { MATCH (l)<-[:CARRIES]-(:Shipment {toFirmId: $viewerFirm}) })"
)
# A shipment is shown to both of its parties (one step forward for the shipper) and to viewers who see
# the shipper's trace data in detail.
SHIPMENT_IN_DETAIL: Final = "(sh.fromFirmId IN $detailFirms OR sh.toFirmId = $viewerFirm)"


@dataclass(frozen=True)
class Viewer:
    """The caller as the graph queries need it: its firm and the firms whose trace records it sees in detail."""

    firm_id: str
    detail_firm_ids: frozenset[str]

    def params(self) -> dict[str, Any]:
        """Parameters for the visibility predicates above."""
        return {"viewerFirm": self.firm_id, "detailFirms": sorted(self.detail_firm_ids)}
