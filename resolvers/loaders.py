"""Per-request DataLoaders: each one batches a request's keys into one ``UNWIND $keys`` query."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from graph_schema import lots, parties
from graph_schema.access import Viewer
from graph_schema.db import Graph, Row
from graph_schema.epcis import master_data_store
from graph_schema.haccp import deviations

K = TypeVar("K")
V = TypeVar("V")


def _loader(fetch: Callable[[list[K]], Awaitable[Sequence[V]]]) -> DataLoader[K, V]:
    async def load(keys: list[K]) -> list[V]:
        return list(await fetch(keys))

    return DataLoader(load_fn=load)


PublicFetch = Callable[[Graph, Sequence[str]], Awaitable[Sequence[Row | None]]]


class ProfileCache:
    """Firm, site and product profiles, which every member may see, kept for a short while per process.

    A list page or a lot detail page names the same few firms, sites and products request after request; kept
    here, they cost no round trip. Only profiles found are kept (a firm admitted a moment ago shows at once); a
    write through this process (any GraphQL mutation) drops them all, one through another process shows within
    ``ttl_seconds``. ``ttl_seconds=0`` turns the cache off.
    """

    def __init__(
        self, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 200_000
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._kept: dict[tuple[str, str], tuple[float, Row]] = {}
        self._generation = 0

    def forget(self) -> None:
        """Drop every kept profile."""
        self._generation += 1
        self._kept.clear()

    def cached(self, kind: str, fetch: PublicFetch) -> PublicFetch:
        """``fetch`` answering kept profiles from memory and asking the graph for the rest only."""

        async def fetch_kept(graph: Graph, keys: Sequence[str]) -> list[Row | None]:
            if self.ttl_seconds <= 0:
                return list(await fetch(graph, keys))
            now = self._clock()
            found: dict[str, Row] = {}
            missing: list[str] = []
            for key in keys:
                kept = self._kept.get((kind, key))
                if kept is not None and kept[0] > now:
                    found[key] = kept[1]
                else:
                    missing.append(key)
            if missing:
                generation = self._generation
                rows = await fetch(graph, missing)
                keep = generation == self._generation
                if keep and len(self._kept) + len(missing) > self._max_entries:
                    self._kept.clear()
                until = self._clock() + self.ttl_seconds
                for key, row in zip(missing, rows, strict=True):
                    if row is not None:
                        found[key] = row
                        if keep:
                            self._kept[(kind, key)] = (until, row)
            # copies: a resolver changing its row must not change the kept one
            return [dict(found[key]) if key in found else None for key in keys]

        return fetch_kept


class Loaders:
    """The loaders of one request, each made when a resolver first asks for it (a request answered by its
    compiled plan asks for none); their caches live and die with the request."""

    def __init__(self, graph: Graph, viewer: Viewer, profiles: ProfileCache | None = None) -> None:
        self._graph, self._viewer, self._profiles = graph, viewer, profiles

    @classmethod
    def create(cls, graph: Graph, viewer: Viewer, profiles: ProfileCache | None = None) -> Loaders:
        """Loaders bound to one request's graph handle and viewer (and the process's kept profiles, if any)."""
        return cls(graph, viewer, profiles)

    def _seen_by_viewer(self, fetch: Callable[[Graph, Viewer, Sequence[str]], Awaitable[Any]]) -> DataLoader[str, Any]:
        graph, viewer = self._graph, self._viewer
        return _loader(lambda keys: fetch(graph, viewer, keys))

    def _public(self, fetch: Callable[[Graph, Sequence[str]], Awaitable[Any]]) -> DataLoader[str, Any]:
        graph = self._graph
        return _loader(lambda keys: fetch(graph, keys))

    def _profile(self, kind: str, fetch: PublicFetch) -> DataLoader[str, Any]:
        return self._public(self._profiles.cached(kind, fetch) if self._profiles is not None else fetch)

    def _linking(self, fetch: Callable[[Graph, Viewer, Sequence[str]], Awaitable[Any]]) -> DataLoader[str, Any]:
        """Inputs or outputs of lots; the linked lots they bring along go into the lot loader, so asking for them
        (``inputs { lot { ... } }``) costs no further round trip."""
        graph, viewer, lot = self._graph, self._viewer, self.lot

        async def fetch_and_prime(keys: Sequence[str]) -> list[list[Row]]:
            links: list[list[Row]] = await fetch(graph, viewer, keys)
            for rows in links:
                for row in rows:
                    linked = row.pop("lot", None)
                    if linked is not None:
                        lot.prime(linked["id"], linked)
            return links

        return DataLoader(load_fn=fetch_and_prime)

    @cached_property
    def firm(self) -> DataLoader[str, Row | None]:
        return self._profile("firm", parties.firms_by_id)

    @cached_property
    def site(self) -> DataLoader[str, Row | None]:
        return self._profile("site", parties.sites_by_gln)

    @cached_property
    def product(self) -> DataLoader[str, Row | None]:
        return self._profile("product", parties.products_by_gtin)

    @cached_property
    def sites_of_firm(self) -> DataLoader[str, list[Row]]:
        return self._public(parties.sites_of_firms)

    @cached_property
    def certifications_of_firm(self) -> DataLoader[str, list[Row]]:
        return self._public(parties.certifications_of_firms)

    @cached_property
    def lot(self) -> DataLoader[str, Row | None]:
        return self._seen_by_viewer(lots.lots_by_id)

    @cached_property
    def inputs_of_lot(self) -> DataLoader[str, list[Row]]:
        return self._linking(lots.inputs_of_lots)

    @cached_property
    def outputs_of_lot(self) -> DataLoader[str, list[Row]]:
        return self._linking(lots.outputs_of_lots)

    @cached_property
    def shipments_of_lot(self) -> DataLoader[str, list[Row]]:
        return self._seen_by_viewer(lots.shipments_of_lots)

    @cached_property
    def deviations_of_lot(self) -> DataLoader[str, list[Row]]:
        return self._seen_by_viewer(deviations.deviations_of_lots)

    @cached_property
    def epcis_locations_of_site(self) -> DataLoader[str, list[Row]]:
        return self._public(master_data_store.locations_of_sites)

    @cached_property
    def epcis_parties_of_firm(self) -> DataLoader[str, list[Row]]:
        return self._public(master_data_store.parties_of_firms)
