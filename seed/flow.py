"""A day-by-day simulation of the value chain over a Directory, producing the day's event records.

Each day every plant plans its lots, orders the raw materials it lacks from its suppliers (a farm ships
part of an open harvest lot, so one lot feeds several plants), makes intermediates and finished lots from
the stock it holds (so one raw lot feeds several finished lots, and a finished lot draws on lots of
several farms), and ships them to distribution centres, which send them on to stores the next morning.
Only a few days of stock are kept, so memory stays flat however long the simulation runs.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from graph_schema.identifiers import lgtin_for
from graph_schema.model import LotStatus
from graph_schema.records import (
    InventoryRecord,
    LotQuantity,
    LotRecord,
    ProductRecord,
    SiteRecord,
    TransformationRecord,
)
from seed.catalog import INTERMEDIATES, MATERIALS, RECIPES
from seed.directory import COMPANY_PREFIX_LENGTH, Directory, DistributionCentre, Plant, Source
from seed.routes import BILL_OF_LADING, DESPATCH_ADVICE, Events, Leg, Make, Stock, Trucks, checked

STOCK_DAYS = 4  # raw stock older than this at a plant, and unsold harvest at a farm, is no longer used
ON_HOLD_RATE = 0.005
ORDER_DAYS = 2.2


class Flow:
    """Runs the directory's supply network one day at a time; deterministic for a given rng."""

    def __init__(
        self,
        directory: Directory,
        *,
        rng: random.Random,
        start: datetime,
        days: int,
        inventory_days: int,
        make: Make = checked,
        first_shipment: int = 0,
    ):
        self.directory = directory
        self.make = make
        self.rng = rng
        self.start = start
        self.days = days
        self.inventory_days = inventory_days
        self.as_of = start + timedelta(days=days)
        self._open: dict[str, Stock] = {}  # source key -> today's open harvest lot
        self._pool: dict[str, dict[str, list[Stock]]] = {p.site.gln: {} for p in directory.plants}
        self._lot_seq: dict[tuple[str, int], int] = {}
        self._trucks = Trucks(rng, make, first=first_shipment)
        self._transformation_seq = 0

    def day(self, day: int) -> Events:
        """Every event of one day: harvests, raw-material shipments, production, dispatch to DCs and stores."""
        events = Events()
        date = self.start + timedelta(days=day)
        raw: dict[tuple[str, str], Leg] = {}
        outbound: dict[tuple[str, str], Leg] = {}
        self._expire(day)
        self._lot_seq.clear()
        # Times are set so that raw materials arrive before noon, production runs 13:00-23:00, lots reach
        # the DCs before 06:00 the next morning and leave for the stores after that.
        for plant in self.directory.plants:
            plan = self._plan(plant)
            self._receive(plant, plan, day, date, raw, events)
            self._produce(plant, plan, day, date, outbound, events)
        self._trucks.ship(raw.values(), date + timedelta(hours=6), (2, 4), DESPATCH_ADVICE, events)
        arrivals = self._trucks.ship(outbound.values(), date + timedelta(hours=25), (2, 3), BILL_OF_LADING, events)
        self._deliver(arrivals, day, date + timedelta(hours=30), events)
        return events

    def closing(self) -> list[InventoryRecord]:
        """Raw stock still held at plants and unshipped harvest at farms when the simulation ends."""
        stocks = [s for pool in self._pool.values() for lots in pool.values() for s in lots] + list(self._open.values())
        return [
            self.make(
                InventoryRecord,
                lot_id=s.lot_id,
                site_gln=s.site.gln,
                quantity=round(s.remaining, 1),
                uom=s.uom,
                as_of=self.as_of,
            )
            for s in stocks
            if s.remaining >= 1 and s.day >= self.days - STOCK_DAYS
        ]

    # --- one plant's day ---------------------------------------------------------------------------------

    def _plan(self, plant: Plant) -> list[tuple[str, float]]:
        """The lots a plant makes today, intermediates first, as (material, quantity)."""
        finished: list[tuple[str, float]] = []
        for material in plant.outputs:
            if material in INTERMEDIATES:
                continue
            low, high = MATERIALS[material].lot_size
            for _ in range(self.rng.randint(*plant.lots_per_day)):
                finished.append((material, float(self.rng.randint(low // 10, high // 10) * 10)))
        intermediates: list[tuple[str, float]] = []
        for material in plant.outputs:
            if material not in INTERMEDIATES:
                continue
            need = sum(q * per for out, q in finished for key, per in RECIPES[out].inputs if key == material)
            if need > 0:
                batches = max(1, math.ceil(need / MATERIALS[material].lot_size[1]))
                intermediates += [(material, math.ceil(need * 1.05 / batches))] * batches
        return intermediates + finished

    def _receive(
        self,
        plant: Plant,
        plan: list[tuple[str, float]],
        day: int,
        date: datetime,
        legs: dict[tuple[str, str], Leg],
        events: Events,
    ) -> None:
        needs: dict[str, float] = {}
        for output, quantity in plan:
            for key, per_unit in RECIPES[output].inputs:
                if key not in INTERMEDIATES:
                    needs[key] = needs.get(key, 0.0) + quantity * per_unit
        pool = self._pool[plant.site.gln]
        for material, need in needs.items():
            sources = plant.suppliers[material]
            stocks = pool.setdefault(material, [])
            stock = sum(s.remaining for s in stocks)
            if stock >= need * 1.15 and len(stocks) >= 2:
                continue
            # Reorder for about two days, so a plant takes a material every other day, not every day.
            target = need * ORDER_DAYS
            first = turn = self.rng.randrange(len(sources))
            # Every finished lot draws on two or more input lots, so keep at least two lots in stock.
            while stock < target or (len(stocks) < 2 and turn - first < 2 * len(sources)):
                source = sources[turn % len(sources)]
                turn += 1
                harvest = self._harvest(source, day, date, events)
                # Part of the gap from each of several suppliers: tofu is then made from lots of two farms.
                gap = max(target - stock, target * 0.3)
                wanted = math.ceil(gap * self.rng.uniform(0.5, 1.0) / 10) * 10
                amount = min(harvest.remaining, float(wanted))
                harvest.remaining -= amount
                leg = legs.setdefault((source.site.gln, plant.site.gln), Leg(source.site, plant.site))
                leg.add(harvest.lot_id, amount, harvest.uom)
                same = next((s for s in stocks if s.lot_id == harvest.lot_id), None)
                if same is None:
                    stocks.append(Stock(harvest.lot_id, amount, harvest.uom, day, plant.site))
                else:
                    same.remaining += amount
                stock += amount

    def _harvest(self, source: Source, day: int, date: datetime, events: Events) -> Stock:
        key = f"{source.site.gln}:{source.material}"
        current = self._open.get(key)
        if current is not None and current.remaining >= 10:
            return current
        spec = MATERIALS[source.material]
        quantity = float(self.rng.randint(spec.lot_size[0] // 10, spec.lot_size[1] // 10) * 10)
        produced = date + timedelta(hours=4, minutes=self.rng.randrange(90))
        lot = self._lot(
            source.material, source.product, source.site, source.number, date, quantity, produced, LotStatus.ACTIVE
        )
        events.lots.append(lot)
        self._open[key] = Stock(lot.id, quantity, spec.uom, day, source.site)
        return self._open[key]

    def _produce(
        self,
        plant: Plant,
        plan: list[tuple[str, float]],
        day: int,
        date: datetime,
        legs: dict[tuple[str, str], Leg],
        events: Events,
    ) -> None:
        pool = self._pool[plant.site.gln]
        step = timedelta(hours=10) / (len(plan) + 1)
        for index, (material, quantity) in enumerate(plan):
            occurred = date + timedelta(hours=13) + step * (index + 1)
            inputs = self._draw(pool, material, quantity)
            if not inputs:
                continue
            product = plant.outputs[material]
            held = self.rng.random() < ON_HOLD_RATE
            status = LotStatus.ON_HOLD if held else LotStatus.ACTIVE
            lot = self._lot(material, product, plant.site, plant.number, date, quantity, occurred, status)
            self._transformation_seq += 1
            events.lots.append(lot)
            events.transformations.append(
                self.make(
                    TransformationRecord,
                    id=f"TF-{date:%Y%m%d}-{self._transformation_seq:07d}",
                    firm_id=plant.site.firm_id,
                    site_gln=plant.site.gln,
                    occurred_at=occurred,
                    inputs=inputs,
                    outputs=[self.make(LotQuantity, lot_id=lot.id, quantity=quantity, uom=lot.uom)],
                )
            )
            if material in INTERMEDIATES:
                pool.setdefault(material, []).append(Stock(lot.id, quantity, lot.uom, day, plant.site))
            elif not held:
                self._dispatch(plant, lot, legs)

    def _draw(self, pool: dict[str, list[Stock]], output: str, quantity: float) -> list[LotQuantity]:
        """Take the recipe's inputs from stock: 2 to 5 lots, the main ingredient from one or two of them."""
        recipe = RECIPES[output]
        counts = [1] * len(recipe.inputs)
        total = self.rng.randint(max(2, len(counts)), min(5, len(counts) + 2))
        for extra in range(total - len(counts)):
            counts[0 if extra == 0 or self.rng.random() < 0.5 else self.rng.randrange(len(counts))] += 1
        inputs: list[LotQuantity] = []
        for (material, per_unit), count in zip(recipe.inputs, counts, strict=True):
            available = [s for s in pool.get(material, []) if s.remaining >= 0.1]
            chosen = self.rng.sample(available, min(count, len(available)))
            for stock in chosen:
                amount = round(min(stock.remaining, quantity * per_unit / len(chosen)), 1)
                if amount > 0:
                    stock.remaining -= amount
                    inputs.append(self.make(LotQuantity, lot_id=stock.lot_id, quantity=amount, uom=stock.uom))
        # Too little in stock for a recipe of two or more lots: the line does not run this batch.
        return inputs if len(inputs) >= 2 else []

    def _dispatch(self, plant: Plant, lot: LotRecord, legs: dict[tuple[str, str], Leg]) -> None:
        dcs = self.rng.sample(plant.dcs, 2) if len(plant.dcs) > 1 and self.rng.random() < 0.25 else plant.dcs[:1]
        if len(dcs) == 1 and len(plant.dcs) > 1:
            dcs = [self.rng.choice(plant.dcs)]
        first = round(lot.quantity * (self.rng.uniform(0.5, 0.7) if len(dcs) == 2 else 1.0))
        for dc, amount in zip(dcs, (first, lot.quantity - first), strict=False):
            leg = legs.setdefault((plant.site.gln, dc.gln), Leg(plant.site, dc))
            leg.add(lot.id, amount, lot.uom)

    # --- distribution ------------------------------------------------------------------------------------

    def _deliver(self, arrivals: list[Leg], day: int, leaving: datetime, events: Events) -> None:
        """DCs send most of what arrived on to one to three of their stores; the rest stays in stock."""
        centres = {dc.site.gln: dc for dc in self.directory.dcs}
        counting = day >= self.days - self.inventory_days
        legs: dict[tuple[str, str], Leg] = {}
        # A lot split between two DCs can reach one store from both: its stock there is one inventory row.
        held: dict[tuple[str, str], float] = {}  # (lot, site) -> quantity left there
        uoms: dict[str, str] = {}
        for arrival in arrivals:
            centre: DistributionCentre = centres[arrival.destination.gln]
            for item in arrival.items(self.make):
                stores = self.rng.sample(centre.stores, self.rng.randint(1, min(3, len(centre.stores))))
                sent = item.quantity * self.rng.uniform(0.7, 0.95)
                weights = [self.rng.uniform(0.5, 1.5) for _ in stores]
                for store, weight in zip(stores, weights, strict=True):
                    amount = round(sent * weight / sum(weights), 1)
                    leg = legs.setdefault((centre.site.gln, store.gln), Leg(centre.site, store))
                    leg.add(item.lot_id, amount, item.uom)
                    unsold = amount * self.rng.uniform(0.1, 0.5)
                    held[(item.lot_id, store.gln)] = held.get((item.lot_id, store.gln), 0.0) + unsold
                held[(item.lot_id, centre.site.gln)] = item.quantity - sent
                uoms[item.lot_id] = item.uom
        self._trucks.ship(legs.values(), leaving, (1, 4), BILL_OF_LADING, events)
        if counting:
            shelf = {lot.id: lot.expires_at for lot in events.lots}
            for (lot_id, gln), amount in held.items():
                expires = shelf.get(lot_id)
                if amount >= 1 and (expires is None or expires > self.as_of):
                    events.inventory.append(
                        self.make(
                            InventoryRecord,
                            lot_id=lot_id,
                            site_gln=gln,
                            quantity=round(amount),
                            uom=uoms[lot_id],
                            as_of=self.as_of,
                        )
                    )

    # --- helpers -----------------------------------------------------------------------------------------

    def _lot(
        self,
        material: str,
        product: ProductRecord,
        site: SiteRecord,
        site_number: int,
        date: datetime,
        quantity: float,
        produced: datetime,
        status: LotStatus,
    ) -> LotRecord:
        # A brand owner's GTIN is made at many plants, so the lot number names the site as well as the day.
        key = (product.gtin, site_number)  # reset every day, as the number carries the date
        seq = self._lot_seq.get(key, 0) + 1
        self._lot_seq[key] = seq
        number = f"L{date:%Y%m%d}-{site_number}-{seq:02d}"
        return self.make(
            LotRecord,
            id=lgtin_for(product.gtin, number, company_prefix_length=COMPANY_PREFIX_LENGTH),
            owner_firm_id=site.firm_id,
            site_gln=site.gln,
            quantity=quantity,
            uom=product.uom,
            produced_at=produced,
            expires_at=produced + timedelta(days=MATERIALS[material].shelf_days),
            status=status,
        )

    def _expire(self, day: int) -> None:
        for pool in self._pool.values():
            for material, lots in pool.items():
                pool[material] = [s for s in lots if day - s.day < STOCK_DAYS and s.remaining >= 0.1]
        self._open = {k: s for k, s in self._open.items() if day - s.day < STOCK_DAYS}
