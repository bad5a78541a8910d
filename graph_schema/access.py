"""What a caller may see, as Cypher parameters: decided in auth/, enforced inside every query here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, LiteralString


# A lot is shown in detail to a viewer who owns it or whose owner shares TRACE at DETAIL with it, to the
# firm it was shipped to (one step back, EU 178/2002 art. 18, needs no grant), and, while a recall is
# open, to its coordinator and the agency when the lot is in the recall's trace.
def firm_in_detail(firm: str) -> str:
    """Cypher true when the viewer sees the trace records of firm id ``firm`` (an expression) in detail: its own
    firm, or an owner sharing TRACE at DETAIL with it (the owner's part of lot_in_detail)."""
    return f"({firm} IN $detailFirms)"


def firm_in_summary(firm: str) -> str:
    """Cypher true when firm id ``firm`` shares TRACE with the viewer at SUMMARY level only: its lots stay redacted
    but count in a trace's totals."""
    return f"({firm} IN $summaryFirms)"


def lot_in_detail(lot: str = "l", suffix: str = "", *, owner_in_detail: str | None = None) -> str:
    """Cypher true when lot ``lot`` is shown in detail to the viewer; ``suffix`` names its inner variables apart, so
    queries compiled from a GraphQL selection (resolvers/compiled.py) can test several lots in one query.

    ``owner_in_detail`` names a variable already holding firm_in_detail of the lot's owner, for queries that decide
    it once per owner firm rather than once per lot (the trace)."""
    return (
        f"({owner_in_detail or firm_in_detail(f'{lot}.ownerFirmId')}"
        # without a label on the shipment the planner always expands from the lot (a few shipments), never
        # seeks every shipment the viewer ever received, which it chose on a young store
        f" OR EXISTS {{ MATCH ({lot})<-[:CARRIES]-(rcv{suffix}) WHERE rcv{suffix}.toFirmId = $viewerFirm }}"
        f" OR (size($recalls) > 0 AND EXISTS {{ MATCH ({lot})<-[:AFFECTS]-(rc{suffix}:Recall)"
        f" WHERE rc{suffix}.id IN $recalls }}))"
    )


LOT_IN_DETAIL: Final = lot_in_detail()


# A shipment is shown to both of its parties (one step forward for the shipper), to viewers who see the
# shipper's trace data in detail, and to a recall's coordinator when it carried a lot of the recall.
def shipment_in_detail(shipment: str = "sh", suffix: str = "") -> str:
    """Cypher true when shipment ``shipment`` is shown in detail to the viewer (``suffix`` as in lot_in_detail)."""
    return (
        f"({shipment}.fromFirmId IN $detailFirms OR {shipment}.toFirmId = $viewerFirm"
        f" OR (size($recalls) > 0 AND EXISTS {{ MATCH ({shipment})-[:CARRIES]->(:Lot)<-[:AFFECTS]-(rs{suffix}:Recall)"
        f" WHERE rs{suffix}.id IN $recalls }}))"
    )


SHIPMENT_IN_DETAIL: Final = shipment_in_detail()
# Owners sharing TRACE at SUMMARY level: their lots stay redacted but count in a trace's totals.
LOT_IN_SUMMARY: Final = firm_in_summary("l.ownerFirmId")


# A CCP ``c`` and its records (readings, deviations) belong to its site's firm: shown in detail to that firm and
# to the firms it shares CCP at DETAIL with (``$ccpDetail`` holds the viewer's own firm, see shared_params).
def ccp_in_detail(ccp: str = "c") -> str:
    """Cypher true when CCP ``ccp``'s records are shown in detail to the viewer."""
    return f"({ccp}.firmId IN $ccpDetail)"


CCP_IN_DETAIL: Final = ccp_in_detail()
# A CCP's definition with counts and compliance figures, never its readings: also to firms sharing CCP at
# SUMMARY, and to the agency, which oversees the whole cluster's compliance.
CCP_IN_SUMMARY: Final = "(c.firmId IN $ccpDetail OR c.firmId IN $ccpSummary OR $ccpOverseer)"


# Deviation ``d`` of CCP ``c``: shown in detail by the CCP's rule, and while a recall is open to its coordinator
# and the agency when the deviation touched a lot in the recall's trace.
def deviation_in_detail(ccp: str = "c", deviation: str = "d", suffix: str = "") -> str:
    """Cypher true when deviation ``deviation`` of CCP ``ccp`` is shown in detail to the viewer (``suffix`` as in
    lot_in_detail; other names than d and c let a query hold it beside a shipment's carrying relationship c)."""
    return (
        f"({ccp_in_detail(ccp)} OR (size($recalls) > 0 AND EXISTS {{ MATCH ({deviation})-[:DURING]->(:Lot)"
        f"<-[:AFFECTS]-(rd{suffix}:Recall) WHERE rd{suffix}.id IN $recalls }}))"
    )


DEVIATION_IN_DETAIL: Final = deviation_in_detail()


def held_by(firm: LiteralString) -> LiteralString:
    """Cypher true when lot ``l`` is held by ``firm`` (an expression): it owns the lot or the lot was shipped to it.

    A firm may consume or ship on only the lots it holds; the write checks use this one definition.
    """
    return f"(l.ownerFirmId = {firm} OR EXISTS {{ MATCH (l)<-[:CARRIES]-(held) WHERE held.toFirmId = {firm} }})"


@dataclass(frozen=True)
class ScopeShares:
    """The owners that opened one scope of their data (INVENTORY, SALES, ORDERS) to the viewer, by level."""

    detail: frozenset[str] = field(default_factory=frozenset)
    summary: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Viewer:
    """The caller as the graph queries need it: its firm and whose trace records it sees, and how."""

    firm_id: str
    detail_firm_ids: frozenset[str]
    summary_firm_ids: frozenset[str] = field(default_factory=frozenset)
    recall_ids: frozenset[str] = field(default_factory=frozenset)
    inventory: ScopeShares = field(default_factory=ScopeShares)
    sales: ScopeShares = field(default_factory=ScopeShares)
    orders: ScopeShares = field(default_factory=ScopeShares)
    ccp: ScopeShares = field(default_factory=ScopeShares)  # Smart HACCP records: CCP readings and deviations
    overseer: bool = False  # the agency: every CCP definition and the cluster-wide summaries

    def params(self) -> dict[str, Any]:
        """Parameters for the visibility predicates above."""
        return {
            "viewerFirm": self.firm_id,
            "detailFirms": sorted(self.detail_firm_ids),
            "summaryFirms": sorted(self.summary_firm_ids - self.detail_firm_ids),
            "recalls": sorted(self.recall_ids),
            # the trace tells which lots were made during a deviation the viewer may see (DEVIATION_IN_DETAIL)
            "ccpDetail": sorted(self.ccp.detail | {self.firm_id}),
        }

    def shared_params(self) -> dict[str, Any]:
        """Parameters for the INVENTORY, SALES, ORDERS and CCP reads: ``$<scope>Detail`` holds the viewer's own firm
        (always seen in detail) and the owners sharing that scope at DETAIL; ``$<scope>Summary`` the owners
        sharing it at SUMMARY only (their figures count in totals, their records never leave the query)."""
        params: dict[str, Any] = {"viewerFirm": self.firm_id, "ccpOverseer": self.overseer}
        for name, shares in (
            ("inventory", self.inventory),
            ("sales", self.sales),
            ("orders", self.orders),
            ("ccp", self.ccp),
        ):
            detail = shares.detail | {self.firm_id}
            params[f"{name}Detail"] = sorted(detail)
            params[f"{name}Summary"] = sorted(shares.summary - detail)
        return params
