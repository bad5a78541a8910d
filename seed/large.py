"""The large cluster (``--scale large``): about 600 firms and a million lots, a year of the value chain.

Only the directory (firms, sites, products: a few thousand records) is held whole; the events are generated
a stretch of days at a time and handed out as chunks, so memory stays flat. Many farms supply many plants,
each finished lot draws on two to five input lots, raw lots feed several finished lots, and distribution
fans out through about sixty distribution centres to about six hundred stores and kitchens.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Final, TypeVar

from graph_schema.model import CertificationKind, FirmRole, SalesChannelKind, SiteKind
from graph_schema.records import SalesChannelRecord, SiteRecord
from seed.catalog import FAMILIES, FARM_CROPS, NAME_WORDS, PLACES, SUPPLIED, Place, family_products
from seed.cluster import Cluster
from seed.demo import AGENCY, ANCHOR, BASE_TIME
from seed.directory import Directory, DistributionCentre, Plant, Registry, Source
from seed.flow import Flow
from seed.routes import Events, Make, checked

LARGE_DAYS: Final = 365
INVENTORY_DAYS: Final = 14
# The year is simulated in stretches of about four weeks, each from its own seeded random stream and with empty
# stocks, so that any number of processes can generate them and the cluster is the same however many do.
PARTITION_DAYS: Final = 28
FARMS: Final = 330
OEMS: Final = 170
DISTRIBUTORS: Final = 30
RETAIL_CHAINS: Final = 28
CATERERS: Final = 10
MARKETERS: Final = 11
# How many farms grow each crop, in proportion to what the plants draw on.
CROP_WEIGHTS: Final = (25, 10, 25, 12, 10, 12, 6)
FAMILY_WEIGHTS: Final = (30, 20, 35, 15)
RURAL: Final = tuple(p for p in PLACES if p.region not in {"Seoul", "Busan", "Incheon", "Daegu", "Daejeon", "Gwangju"})
C, P, S = CertificationKind, FirmRole, SiteKind
T = TypeVar("T")

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem
# id prefix, firms, role, channel, name suffix, sites per firm
OUTLETS: Final = (
    ("retail", RETAIL_CHAINS, P.RETAILER, SalesChannelKind.RETAIL_CHAIN, ("Mart", "마트"), (8, 25)),
    ("catering", CATERERS, P.RETAILER, SalesChannelKind.INSTITUTIONAL_CATERING, ("Catering", "급식"), (4, 12)),
    ("market", MARKETERS, P.MARKETER, SalesChannelKind.ONLINE_MARKETPLACE, ("Market", "마켓"), (1, 2)),
)


class FastRandom(random.Random):
    """The standard generator's stream with cheaper draws for the year's tens of millions of them.

    ``random.Random``'s integer draws take getrandbits with rejection and its ``sample`` checks its argument's
    abstract type at every call; here each draw is one ``random()`` scaled, its bias below 2**-40 for the small
    ranges of the simulation. The demo keeps ``random.Random``.
    """

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None:
            start, stop = 0, start
        if step != 1 or stop <= start:
            return super().randrange(start, stop, step)
        return start + int(self.random() * (stop - start))

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: SupportsLenAndGetItem[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def sample(self, population: Sequence[T], k: int, *, counts: Iterable[int] | None = None) -> list[T]:
        n = len(population)
        if counts is not None or not 0 <= k <= n:
            return super().sample(population, k, counts=counts)
        if k == 1:
            return [population[int(self.random() * n)]]
        pool = list(population)
        for i in range(k):  # the first k steps of a Fisher-Yates shuffle
            j = i + int(self.random() * (n - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


class LargeCluster:
    """The large cluster for a seed: its directory at once, its events as a stream of chunks."""

    def __init__(
        self, seed: int, *, days: int | None = None, make: Make = checked, partition_days: int = PARTITION_DAYS
    ) -> None:
        self.seed = seed
        self.partition_days = partition_days
        self.rng = random.Random(seed)
        self.make = make
        self.days = LARGE_DAYS if days is None else days
        self.directory = Directory()
        self._registry = Registry(self.directory)
        self._names: set[str] = set()
        self._build()

    def profiles(self) -> Cluster:
        """Firms, sites, certifications, products, sales channels and CCPs."""
        d = self.directory
        return Cluster(d.firms, d.sites, d.certifications, d.products, d.channels, d.ccps)

    def partitions(self) -> list[range]:
        """The stretches of days simulated independently, in order (they depend on ``days`` alone)."""
        count = max(1, math.ceil(self.days / self.partition_days))
        bounds = [self.days * i // count for i in range(count + 1)]
        return [range(bounds[i], bounds[i + 1]) for i in range(count)]

    def chunks(self, *, lots_per_chunk: int) -> Iterator[tuple[Cluster, int]]:
        """Events in chunks of whole days holding at least ``lots_per_chunk`` lots, with the days done so far."""
        for index in range(len(self.partitions())):
            yield from self.partition_chunks(index, lots_per_chunk=lots_per_chunk)

    def partition_chunks(self, index: int, *, lots_per_chunk: int) -> Iterator[tuple[Cluster, int]]:
        """The chunks of one partition of the days: the same whichever process makes them, in whatever order.

        The partition's stocks start empty and its random stream comes from the seed and the partition's index;
        shipments are numbered from the index's own million, so no two partitions share an id.
        """
        days = self.partitions()[index]
        flow = Flow(
            self.directory,
            rng=FastRandom(f"{self.seed}:{index}"),
            start=BASE_TIME,
            days=self.days,
            inventory_days=INVENTORY_DAYS,
            make=self.make,
            first_shipment=index * 1_000_000,
        )
        events = Events()
        for day in days:
            events.extend(flow.day(day))
            last = day == days[-1]
            if last and day == self.days - 1:
                events.inventory += flow.closing()
            if len(events.lots) >= lots_per_chunk or last:
                yield Cluster(lots=events.lots, transformations=events.transformations, shipments=events.shipments,
                              inventory=events.inventory), day + 1  # fmt: skip
                events = Events()

    # --- the directory -----------------------------------------------------------------------------------

    def _name(self, place: Place, suffix: tuple[str, str]) -> tuple[str, str]:
        for _ in range(50):
            word, word_ko = self.rng.choice(NAME_WORDS)
            name = f"{place.name} {word} {suffix[0]}"
            if name not in self._names:
                self._names.add(name)
                return name, f"{place.name_ko}{word_ko}{suffix[1]}"
        number = len(self._names)
        self._names.add(f"{place.name} {suffix[0]} {number}")
        return f"{place.name} {suffix[0]} {number}", f"{place.name_ko}{suffix[1]} {number}"

    def _certified(self, site: SiteRecord, kind: CertificationKind) -> None:
        since = BASE_TIME - timedelta(days=self.rng.randrange(60, 900))
        self._registry.certify(site, kind, number=self.rng.randrange(1, 99_999), valid_from=since)

    def _build(self) -> None:
        reg, rng = self._registry, self.rng
        reg.firm(AGENCY, "Korea Agency of HACCP Accreditation and Services", "한국식품안전관리인증원", [P.AGENCY])
        reg.site(AGENCY, "Osong head office", S.OTHER, "Chungbuk")
        reg.firm(ANCHOR, "Hanbit Foods", "한빛식품", [P.ANCHOR, P.PLANT], brand=("Hanbit", "한빛"))
        sources = self._sources()
        plants: list[Plant] = []
        for index, families in enumerate((["tofu", "sprouts"], ["kimchi"], ["noodles"]) * 2):
            place = rng.choice(RURAL)
            name = f"Hanbit Foods {place.name} plant {index + 1}"
            plants.append(reg.plant(ANCHOR, name, place.region, families, brand_owner=ANCHOR, lots_per_day=(6, 12)))
        for number in range(1, OEMS + 1):
            place = rng.choice(RURAL)
            (family,) = rng.choices(FAMILIES, FAMILY_WEIGHTS)
            name, name_ko = self._name(place, ("Foods", "식품"))
            firm_id = f"oem-{number:04d}"
            reg.firm(firm_id, name, name_ko, [P.OEM, P.PLANT])
            own = frozenset(rng.sample(family_products(family), 1)) if rng.random() < 0.3 else frozenset()
            plant = reg.plant(
                firm_id, f"{name} plant", place.region, [family], brand_owner=ANCHOR, own_brand=own, lots_per_day=(2, 9)
            )
            plants.append(plant)
        for plant in plants:
            self._certified(plant.site, C.HACCP)
            if rng.random() < 0.55:
                self._certified(plant.site, C.SMART_HACCP)
            reg.supply(plant, {m: rng.sample(s, min(len(s), rng.randint(3, 6))) for m, s in sources.items()})
        self.directory.dcs = self._distributors()
        self._retail()
        for plant in plants:
            plant.dcs = [dc.site for dc in rng.sample(self.directory.dcs, rng.randint(1, 3))]

    def _sources(self) -> dict[str, list[Source]]:
        reg, rng = self._registry, self.rng
        sources: dict[str, list[Source]] = {}
        for number in range(1, FARMS + 1):
            place = rng.choice(RURAL)
            name, name_ko = self._name(place, ("Farm", "농장"))
            firm_id = f"farm-{number:04d}"
            reg.firm(firm_id, name, name_ko, [P.FARM])
            field, site_number = reg.site(firm_id, f"{name} field", S.FARM, place.region)
            self._certified(field, C.GAP)
            crops = set(rng.choices(FARM_CROPS, CROP_WEIGHTS, k=rng.randint(1, 2)))
            for crop in sorted(crops):
                sources.setdefault(crop, []).append(reg.source(field, site_number, crop))
        kinds = {"sea_salt": (8, P.FARM, S.FARM, "salt pan"), "wheat_flour": (5, P.PLANT, S.PLANT, "mill")}
        kinds["nigari"] = (6, P.PLANT, S.PLANT, "plant")
        for material in SUPPLIED:
            count, role, kind, what = kinds[material]
            for number in range(1, count + 1):
                place = rng.choice(RURAL)
                suffix = {"sea_salt": ("Sea Salt", "천일염"), "wheat_flour": ("Milling", "제분")}.get(
                    material, ("Food Additives", "식품첨가물")
                )
                name, name_ko = self._name(place, suffix)
                firm_id = f"{material.replace('_', '-')}-{number:02d}"
                reg.firm(firm_id, name, name_ko, [role])
                site, site_number = reg.site(firm_id, f"{name} {what}", kind, place.region)
                self._certified(site, C.HACCP)
                sources.setdefault(material, []).append(reg.source(site, site_number, material))
        return sources

    def _distributors(self) -> list[DistributionCentre]:
        centres: list[DistributionCentre] = []
        for number in range(1, DISTRIBUTORS + 1):
            place = self.rng.choice(PLACES)
            name, name_ko = self._name(place, ("Logistics", "물류"))
            firm_id = f"dist-{number:02d}"
            self._registry.firm(firm_id, name, name_ko, [P.DISTRIBUTOR])
            for index in range(self.rng.randint(1, 3)):
                where = self.rng.choice(PLACES)
                kind = S.WAREHOUSE if self.rng.random() < 0.2 else S.DC
                site_name = f"{name} {where.name} {'DC' if kind is S.DC else 'cold warehouse'} {index + 1}"
                centres.append(DistributionCentre(self._registry.site(firm_id, site_name, kind, where.region)[0]))
        return centres

    def _retail(self) -> None:
        reg, rng = self._registry, self.rng
        goods = [p.gtin for p in self.directory.products if p.category.split(" ")[0] not in {"Raw", "Intermediate"}]
        outlets: list[SiteRecord] = []
        for prefix, count, role, kind, suffix, size in OUTLETS:
            for number in range(1, count + 1):
                name, name_ko = self._name(rng.choice(PLACES), suffix)
                firm_id = f"{prefix}-{number:02d}"
                reg.firm(firm_id, name, name_ko, [role])
                sites: list[SiteRecord] = []
                for index in range(rng.randint(*size)):
                    where = rng.choice(PLACES)
                    site_kind = {"retail": S.STORE, "catering": S.OTHER}.get(prefix, S.WAREHOUSE)
                    label = {"retail": "store", "catering": "school kitchen"}.get(prefix, "fulfilment centre")
                    sites.append(
                        reg.site(firm_id, f"{name} {where.name} {label} {index + 1}", site_kind, where.region)[0]
                    )
                self._channel(f"{firm_id}-{kind.value.lower()}", firm_id, name, kind, sites, rng.sample(goods, 12))
                if prefix == "market" and rng.random() < 0.4:
                    depot = reg.site(firm_id, f"{name} Busan export depot", S.WAREHOUSE, "Busan")[0]
                    sites.append(depot)
                    self._channel(
                        f"{firm_id}-export", firm_id, name, SalesChannelKind.EXPORT, [depot], rng.sample(goods, 6)
                    )
                outlets += sites
        centres = self.directory.dcs
        for outlet in outlets:
            for centre in rng.sample(centres, rng.randint(1, 2)):
                centre.stores.append(outlet)
        for centre in centres:
            if not centre.stores:
                centre.stores = rng.sample(outlets, 3)

    def _channel(
        self,
        channel_id: str,
        firm_id: str,
        name: str,
        kind: SalesChannelKind,
        sites: list[SiteRecord],
        gtins: list[str],
    ) -> None:
        self.directory.channels.append(
            SalesChannelRecord(
                id=channel_id,
                operator_firm_id=firm_id,
                name=f"{name} {kind.value.replace('_', ' ').lower()}",
                kind=kind,
                store_glns=[s.gln for s in sites],
                listed_gtins=gtins,
            )
        )
