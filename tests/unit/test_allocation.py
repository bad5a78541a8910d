"""The allocation rule on its own: stock first, then capacity in proportion, whole units, explained."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from graph_schema.allocation import Candidate, Certificate, allocate

CERT = Certificate(id="c", kind="HACCP", number="H-1", valid_until=datetime(2027, 5, 1, tzinfo=UTC))


def plant(name: str, *, per_day: float = 0.0, days: int = 10, stock: float = 0.0, promised: float = 0.0) -> Candidate:
    return Candidate(
        capacity_id=name,
        firm_id=f"firm-{name}",
        site_gln=name,
        uom="EA",
        per_day=per_day,
        days=days,
        promised_capacity=promised,
        stock=stock,
        promised_stock=0.0,
        certificate=CERT,
    )


def split(quantity: int, *candidates: Candidate) -> tuple[dict[str, tuple[int, int]], int]:
    proposal = allocate(quantity, candidates)
    return {s.candidate.capacity_id: (s.from_stock, s.from_capacity) for s in proposal.shares}, proposal.unallocated


def test_stock_goes_first_then_capacity_in_proportion_to_what_is_free() -> None:
    assert split(1000, plant("a", per_day=100), plant("b", per_day=300, stock=200)) == (
        {"a": (0, 200), "b": (200, 600)},
        0,
    )


def test_the_largest_stock_is_used_first_and_capacity_already_promised_is_not_free() -> None:
    assert split(150, plant("a", stock=100), plant("b", stock=120), plant("c", per_day=10, promised=100)) == (
        {"b": (120, 0), "a": (30, 0)},
        0,
    )


def test_what_nobody_can_take_stays_unallocated() -> None:
    assert split(5000, plant("a", per_day=100, days=2), plant("b", per_day=300, days=2, stock=200)) == (
        {"a": (0, 200), "b": (200, 600)},
        4000,
    )


def test_leftover_units_go_to_the_largest_fractions() -> None:
    # 10 units over free capacities 1:1:1 -> 3.33 each; the one left goes to the first by id
    assert split(10, plant("x", per_day=1), plant("y", per_day=1), plant("z", per_day=1)) == (
        {"x": (0, 4), "y": (0, 3), "z": (0, 3)},
        0,
    )


def test_each_share_says_why() -> None:
    [share] = allocate(250, [plant("a", per_day=100, days=3, stock=50, promised=20)]).shares
    assert share.reason() == (
        "50 EA from 50 EA of free stock at the plant; 200 EA to produce, sized from 280 EA of free capacity "
        "(100 EA/day x 3 days, less 20 EA already promised); certified HACCP H-1 valid until 2027-05-01"
    )


@given(
    quantity=st.integers(min_value=0, max_value=100_000),
    plants=st.lists(
        st.tuples(st.integers(0, 5_000), st.integers(0, 30), st.integers(0, 20_000), st.integers(0, 10_000)),
        max_size=8,
    ),
)
def test_shares_never_exceed_the_order_nor_what_each_plant_has_free(
    quantity: int, plants: list[tuple[int, int, int, int]]
) -> None:
    candidates = [
        plant(f"p{i}", per_day=per_day, days=days, stock=stock, promised=promised)
        for i, (per_day, days, stock, promised) in enumerate(plants)
    ]
    proposal = allocate(quantity, candidates)
    placed = sum(s.quantity for s in proposal.shares)
    assert placed + proposal.unallocated == quantity
    free = sum(c.free_stock + c.free_capacity for c in candidates)
    assert proposal.unallocated == max(0, quantity - free)
    for share in proposal.shares:
        assert 0 <= share.from_stock <= share.candidate.free_stock
        assert 0 <= share.from_capacity <= share.candidate.free_capacity
        assert share.quantity > 0
