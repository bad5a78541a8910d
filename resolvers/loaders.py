"""Per-request DataLoaders: each one batches a request's keys into one ``UNWIND $keys`` query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from graph_schema import lots, parties
from graph_schema.access import Viewer
from graph_schema.db import Graph, Row

K = TypeVar("K")
V = TypeVar("V")


def _loader(fetch: Callable[[list[K]], Awaitable[Sequence[V]]]) -> DataLoader[K, V]:
    async def load(keys: list[K]) -> list[V]:
        return list(await fetch(keys))

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    """The loaders of one request; their caches live and die with it."""

    firm: DataLoader[str, Row | None]
    site: DataLoader[str, Row | None]
    product: DataLoader[str, Row | None]
    sites_of_firm: DataLoader[str, list[Row]]
    certifications_of_firm: DataLoader[str, list[Row]]
    lot: DataLoader[str, Row | None]
    inputs_of_lot: DataLoader[str, list[Row]]
    outputs_of_lot: DataLoader[str, list[Row]]
    shipments_of_lot: DataLoader[str, list[Row]]

    @classmethod
    def create(cls, graph: Graph, viewer: Viewer) -> Loaders:
        """Loaders bound to one request's graph handle and viewer."""

        def seen_by_viewer(fetch: Callable[[Graph, Viewer, Sequence[str]], Awaitable[Any]]) -> DataLoader[str, Any]:
            return _loader(lambda keys: fetch(graph, viewer, keys))

        def public(fetch: Callable[[Graph, Sequence[str]], Awaitable[Any]]) -> DataLoader[str, Any]:
            return _loader(lambda keys: fetch(graph, keys))

        return cls(
            firm=public(parties.firms_by_id),
            site=public(parties.sites_by_gln),
            product=public(parties.products_by_gtin),
            sites_of_firm=public(parties.sites_of_firms),
            certifications_of_firm=public(parties.certifications_of_firms),
            lot=seen_by_viewer(lots.lots_by_id),
            inputs_of_lot=seen_by_viewer(lots.inputs_of_lots),
            outputs_of_lot=seen_by_viewer(lots.outputs_of_lots),
            shipments_of_lot=seen_by_viewer(lots.shipments_of_lots),
        )
