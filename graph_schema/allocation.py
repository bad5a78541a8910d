"""How the hub splits a bulk order across capable members: a pure, deterministic and explainable rule.

1. Stock first: ready goods are the surest way to meet a due date. Members holding free stock of the
   product at a certified plant give it, the largest stock first (ties by capacity id), until the order is met.
2. Then production, shared out in proportion to each member's free capacity up to the due date (declared
   quantity per day times the whole days left, less what other open orders were promised), so that small
   members get work in the measure they can take it. Whole units; leftover units go to the largest
   fractional parts (ties by capacity id).
3. What neither covers stays unallocated on the order.

Each share says why: the stock it draws on, the free capacity it was sized from, and the certificate that
made the member eligible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Certificate:
    """The HACCP or Smart HACCP certificate that makes a plant eligible for an order."""

    id: str
    kind: str
    number: str
    valid_until: datetime


@dataclass(frozen=True)
class Candidate:
    """One plant's declared capacity for the order's product category, with what it has free for this order."""

    capacity_id: str
    firm_id: str
    site_gln: str
    uom: str
    per_day: float
    days: int
    promised_capacity: float  # to open orders (other orders not yet due, and earlier shares of this one)
    stock: float  # free-to-use stock of the product at the plant, unexpired at the due date
    promised_stock: float  # likewise
    certificate: Certificate

    @property
    def free_capacity(self) -> int:
        """Whole units the plant can still make by the due date."""
        return max(0, math.floor(self.per_day * self.days - self.promised_capacity + 1e-9))

    @property
    def free_stock(self) -> int:
        """Whole units of stock not yet promised."""
        return max(0, math.floor(self.stock - self.promised_stock + 1e-9))


@dataclass(frozen=True)
class Share:
    """One member plant's part of an order, with the figures it was computed from."""

    candidate: Candidate
    from_stock: int
    from_capacity: int

    @property
    def quantity(self) -> int:
        return self.from_stock + self.from_capacity

    def reason(self) -> str:
        """The share explained in one sentence a planner can check."""
        c = self.candidate
        parts = []
        if self.from_stock:
            parts.append(f"{self.from_stock:,} {c.uom} from {c.free_stock:,} {c.uom} of free stock at the plant")
        if self.from_capacity:
            parts.append(
                f"{self.from_capacity:,} {c.uom} to produce, sized from {c.free_capacity:,} {c.uom} of free capacity"
                f" ({_number(c.per_day)} {c.uom}/day x {c.days} days, less {_number(c.promised_capacity)} {c.uom}"
                " already promised)"
            )
        cert = c.certificate
        parts.append(f"certified {cert.kind} {cert.number} valid until {cert.valid_until:%Y-%m-%d}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Proposal:
    """The shares proposed for a quantity, and what could not be placed."""

    shares: list[Share] = field(default_factory=list)
    unallocated: int = 0


def allocate(quantity: int, candidates: Sequence[Candidate]) -> Proposal:
    """Split ``quantity`` whole units: free stock first (largest first), then free capacity in proportion."""
    if quantity <= 0:
        return Proposal()
    ordered = sorted(candidates, key=lambda c: c.capacity_id)
    from_stock: dict[str, int] = {}
    remaining = quantity
    for candidate in sorted(ordered, key=lambda c: (-c.free_stock, c.capacity_id)):
        if remaining == 0:
            break
        take = min(remaining, candidate.free_stock)
        if take:
            from_stock[candidate.capacity_id] = take
            remaining -= take
    from_capacity = _proportional(remaining, {c.capacity_id: c.free_capacity for c in ordered})
    remaining -= sum(from_capacity.values())
    shares = [
        Share(
            candidate=c, from_stock=from_stock.get(c.capacity_id, 0), from_capacity=from_capacity.get(c.capacity_id, 0)
        )
        for c in ordered
    ]
    return Proposal(shares=[s for s in shares if s.quantity > 0], unallocated=remaining)


def _proportional(quantity: int, free: dict[str, int]) -> dict[str, int]:
    """Whole units in proportion to ``free`` (largest remainders), never more than each one's free amount."""
    total = sum(free.values())
    if quantity <= 0 or total == 0:
        return {}
    if total <= quantity:
        return {key: amount for key, amount in free.items() if amount}
    exact = {key: quantity * amount / total for key, amount in free.items()}
    given = {key: math.floor(value) for key, value in exact.items()}
    left = quantity - sum(given.values())
    # exact < free for every key here (quantity < total), so rounding one unit up never passes a free amount
    for key in sorted(exact, key=lambda k: (-(exact[k] - given[k]), k))[:left]:
        given[key] += 1
    return {key: amount for key, amount in given.items() if amount}


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
