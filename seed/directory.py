"""The cluster's directory as the generators build it: firms, sites, products, and who supplies whom.

A Registry hands out GS1 numbers: each firm gets a Korean company prefix (880 and four digits), its sites
get GLNs and its products GTINs under that prefix, all with valid check digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from graph_schema.identifiers import gs1_check_digit
from graph_schema.model import CertificationKind, FirmRole, SiteKind
from graph_schema.records import (
    CcpRecord,
    CertificationRecord,
    FirmRecord,
    ProductRecord,
    SalesChannelRecord,
    SiteRecord,
)
from seed.catalog import CCPS, INTERMEDIATES, MATERIALS, RECIPES, family_products

COMPANY_PREFIX_LENGTH = 7


@dataclass(frozen=True)
class Source:
    """A site that commissions lots of one raw material: a GAP farm field, a salt pan, a mill."""

    site: SiteRecord
    number: int
    material: str
    product: ProductRecord


@dataclass
class Plant:
    """A plant site with what it makes (output material -> the product record it commissions)."""

    site: SiteRecord
    number: int
    outputs: dict[str, ProductRecord]
    lots_per_day: tuple[int, int]
    suppliers: dict[str, list[Source]] = field(default_factory=dict)
    dcs: list[SiteRecord] = field(default_factory=list)


@dataclass
class DistributionCentre:
    site: SiteRecord
    stores: list[SiteRecord] = field(default_factory=list)


@dataclass
class Directory:
    """Everything but the events: the profile records, plus the supply network the flow runs on."""

    firms: list[FirmRecord] = field(default_factory=list)
    sites: list[SiteRecord] = field(default_factory=list)
    certifications: list[CertificationRecord] = field(default_factory=list)
    products: list[ProductRecord] = field(default_factory=list)
    channels: list[SalesChannelRecord] = field(default_factory=list)
    ccps: list[CcpRecord] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    plants: list[Plant] = field(default_factory=list)
    dcs: list[DistributionCentre] = field(default_factory=list)


class Registry:
    """Builds profile records into a Directory, numbering GLNs and GTINs under each firm's prefix."""

    def __init__(self, directory: Directory, *, first_prefix: int = 1000) -> None:
        self.directory = directory
        self._next_prefix = first_prefix
        self._prefix: dict[str, str] = {}
        self._next_location: dict[str, int] = {}
        self._next_item: dict[str, int] = {}
        self._products: dict[tuple[str, str], ProductRecord] = {}
        self._site_count = 0
        self._brand: dict[str, tuple[str, str]] = {}

    def firm(
        self, firm_id: str, name: str, name_ko: str, roles: list[FirmRole], *, brand: tuple[str, str] | None = None
    ) -> FirmRecord:
        """Admit a firm and give it a company prefix; ``brand`` (English, Korean) prefixes its product names."""
        self._prefix[firm_id] = f"880{self._next_prefix:04d}"
        self._brand[firm_id] = brand or (name.split()[0], name_ko[:2])
        self._next_prefix += 1
        record = FirmRecord(id=firm_id, name=name, name_ko=name_ko, roles=roles)
        self.directory.firms.append(record)
        return record

    def site(self, firm_id: str, name: str, kind: SiteKind, region: str) -> tuple[SiteRecord, int]:
        """Register a site of a firm; returns it with a cluster-wide site number used in lot numbers."""
        location = self._next_location.get(firm_id, 1)
        self._next_location[firm_id] = location + 1
        body = f"{self._prefix[firm_id]}{location:05d}"
        record = SiteRecord(gln=body + str(gs1_check_digit(body)), firm_id=firm_id, name=name, kind=kind, region=region)
        self.directory.sites.append(record)
        self._site_count += 1
        return record, self._site_count

    def product(self, owner_firm_id: str, material: str, *, branded: bool = True) -> ProductRecord:
        """The owner's product of a material, registered on first use."""
        key = (owner_firm_id, material)
        if key in self._products:
            return self._products[key]
        item = self._next_item.get(owner_firm_id, 1)
        self._next_item[owner_firm_id] = item + 1
        body = f"0{self._prefix[owner_firm_id]}{item:05d}"
        spec = MATERIALS[material]
        brand_en, brand_ko = self._brand[owner_firm_id] if branded else ("", "")
        record = ProductRecord(
            gtin=body + str(gs1_check_digit(body)),
            owner_firm_id=owner_firm_id,
            name=f"{brand_en} {spec.name}".strip(),
            name_ko=f"{brand_ko} {spec.name_ko}".strip(),
            category=spec.category,
            uom=spec.uom,
        )
        self._products[key] = record
        self.directory.products.append(record)
        return record

    def certify(
        self, site: SiteRecord, kind: CertificationKind, *, number: int, valid_from: datetime, years: int = 3
    ) -> CertificationRecord:
        """Certify a site (GAP for a farm field, HACCP or Smart HACCP for a plant)."""
        record = CertificationRecord(
            id=f"CERT-{kind.value}-{site.gln}",
            firm_id=site.firm_id,
            site_gln=site.gln,
            kind=kind,
            number=f"{kind.value.replace('_', '-')}-{valid_from.year}-{number:05d}",
            valid_from=valid_from,
            valid_until=valid_from + timedelta(days=365 * years),
        )
        self.directory.certifications.append(record)
        return record

    def control_points(self, site: SiteRecord, families: dict[str, list[str]]) -> None:
        """Register the HACCP critical control points of a plant's production lines (family -> its GTINs)."""
        for family, gtins in families.items():
            for template in CCPS[family]:
                self.directory.ccps.append(
                    CcpRecord(
                        id=f"{site.gln}-{family}-{template.code}",
                        site_gln=site.gln,
                        firm_id=site.firm_id,
                        code=template.code,
                        name=f"{template.name} ({family} line)",
                        hazard=template.hazard,
                        limit_low=template.limit_low,
                        limit_high=template.limit_high,
                        unit=template.unit,
                        monitoring_interval_seconds=template.interval_seconds,
                        devices=[f"{site.gln}-{family}-{template.device}-{template.code.removeprefix('CCP-')}"],
                        product_gtins=gtins,
                    )
                )

    def source(self, site: SiteRecord, number: int, material: str) -> Source:
        """Make a site a source of a raw material, sold under its firm's own GTIN."""
        source = Source(site, number, material, self.product(site.firm_id, material))
        self.directory.sources.append(source)
        return source

    def plant(
        self,
        firm_id: str,
        name: str,
        region: str,
        families: list[str],
        *,
        brand_owner: str,
        own_brand: frozenset[str] = frozenset(),
        lots_per_day: tuple[int, int],
    ) -> Plant:
        """Register a plant making its families' goods: the brand owner's GTINs, or its own for ``own_brand``."""
        site, number = self.site(firm_id, name, SiteKind.PLANT, region)
        outputs: dict[str, ProductRecord] = {}
        lines: dict[str, list[str]] = {}  # family -> the GTINs its line makes (what its CCPs guard)
        for family in families:
            for material in family_products(family):
                owner = firm_id if material in own_brand else brand_owner
                outputs[material] = self.product(owner, material)
                lines.setdefault(family, []).append(outputs[material].gtin)
            for recipe in RECIPES.values():
                if recipe.family == family and recipe.output in INTERMEDIATES:
                    # Made and used inside the plant: an internal product of the firm that makes it.
                    outputs[recipe.output] = self.product(firm_id, recipe.output, branded=False)
                    lines.setdefault(family, []).append(outputs[recipe.output].gtin)
        self.control_points(site, lines)
        plant = Plant(site, number, outputs, lots_per_day)
        self.directory.plants.append(plant)
        return plant

    def supply(self, plant: Plant, sources: dict[str, list[Source]]) -> None:
        """Give a plant its suppliers for every raw material its recipes need."""
        for output in plant.outputs:
            for material, _ in RECIPES[output].inputs:
                if material not in INTERMEDIATES:
                    plant.suppliers[material] = sources[material]
