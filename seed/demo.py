"""The demo cluster: a small, believable value chain around the anchor, ten days of it, built in memory.

Three anchor plants and six OEM partners make tofu, sprouts, kimchi and noodles under the anchor's brand
from the harvests of eight GAP farms and three ingredient suppliers; three distributors carry them to the
stores, the online and export warehouses and the school kitchens of three retailers and marketers.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Final

from graph_schema.model import CertificationKind, FirmRole, SalesChannelKind, SiteKind
from graph_schema.records import SalesChannelRecord, SiteRecord
from seed.catalog import FAMILIES, family_products
from seed.cluster import Cluster
from seed.directory import Directory, DistributionCentre, Plant, Registry, Source
from seed.flow import Flow
from seed.routes import Events

KST: Final = timezone(timedelta(hours=9))
BASE_TIME: Final = datetime(2026, 9, 1, tzinfo=KST)
DEMO_DAYS: Final = 10

AGENCY: Final = "agency"
ANCHOR: Final = "anchor"
C, P, S = CertificationKind, FirmRole, SiteKind

# firm id, English name, Korean name, region, families, Smart HACCP, goods sold under the OEM's own brand
OEMS: Final[tuple[tuple[str, str, str, str, list[str], bool, frozenset[str]], ...]] = (
    ("chodang-tofu", "Gangneung Chodang Tofu", "강릉초당두부", "Gangwon", ["tofu"], True, frozenset({"soft_tofu"})),
    ("yesan-tofu", "Yesan Farmhouse Tofu", "예산농가두부", "Chungnam", ["tofu"], False, frozenset()),
    (
        "eumseong-sprouts",
        "Eumseong Clear Water Sprouts",
        "음성맑은물콩나물",
        "Chungbuk",
        ["sprouts"],
        False,
        frozenset(),
    ),
    ("sunchang-fermented", "Sunchang Fermented Foods", "순창발효식품", "Jeonbuk", ["kimchi"], True, frozenset()),
    ("pyeongchang-kimchi", "Pyeongchang Mountain Kimchi", "평창산골김치", "Gangwon", ["kimchi"], False, frozenset()),
    ("gimpo-noodles", "Gimpo Handmade Noodles", "김포수타면", "Gyeonggi", ["noodles"], True, frozenset()),
)
# firm id, English name, Korean name, region, crops
FARMS: Final = (
    ("haenam-green-farm", "Haenam Green Farm", "해남그린농장", "Jeonnam", ["napa_cabbage", "mung_bean"]),
    ("goesan-cabbage-farm", "Goesan Salted Cabbage Farm", "괴산절임배추농원", "Chungbuk", ["napa_cabbage"]),
    ("paju-jangdan-bean", "Paju Jangdan Bean Farm", "파주장단콩농장", "Gyeonggi", ["soybean"]),
    ("yeoncheon-bean-farm", "Yeoncheon Bean Farm", "연천콩농장", "Gyeonggi", ["soybean", "mung_bean"]),
    ("yeongyang-pepper", "Yeongyang Red Pepper Farm", "영양고추농원", "Gyeongbuk", ["red_pepper"]),
    ("uiseong-garlic", "Uiseong Garlic Farm", "의성마늘농장", "Gyeongbuk", ["garlic"]),
    ("seosan-ginger", "Seosan Ginger Farm", "서산생강농장", "Chungnam", ["ginger", "garlic"]),
    ("jeongseon-highland", "Jeongseon Highland Farm", "정선고랭지농장", "Gangwon", ["radish", "napa_cabbage"]),
)
# firm id, English name, Korean name, roles, site name, site kind, region, material
SUPPLIERS: Final = (
    ("sinan-sea-salt", "Sinan Sea Salt", "신안천일염", [P.FARM], "Sinan salt pan", S.FARM, "Jeonnam", "sea_salt"),
    (
        "incheon-milling",
        "Incheon Flour Mills",
        "인천제분",
        [P.PLANT],
        "Incheon mill",
        S.PLANT,
        "Incheon",
        "wheat_flour",
    ),
    (
        "hanguk-additives",
        "Korea Food Additives",
        "한국식품첨가물",
        [P.PLANT],
        "Hwaseong plant",
        S.PLANT,
        "Gyeonggi",
        "nigari",
    ),
)
# firm id, English name, Korean name, [(site name, kind, region)]
DISTRIBUTORS: Final = (
    ("cheonan-cold-chain", "Cheonan Cold Chain", "천안콜드체인", [("Cheonan DC", S.DC, "Chungnam")]),
    ("busan-fresh", "Busan Fresh Logistics", "부산신선물류", [("Busan port cold warehouse", S.WAREHOUSE, "Busan")]),
    (
        "metro-logistics",
        "Seoul Metro Logistics",
        "서울메트로물류",
        [("Icheon DC", S.DC, "Gyeonggi"), ("Pyeongtaek DC", S.DC, "Gyeonggi")],
    ),
)


def build_demo(seed: int = 7) -> Cluster:
    """The demo cluster, identical for the same seed."""
    rng = random.Random(seed)
    directory = Directory()
    registry = Registry(directory)
    since = BASE_TIME - timedelta(days=400)

    def since_random() -> datetime:
        return since + timedelta(days=rng.randrange(300))

    registry.firm(AGENCY, "Korea Agency of HACCP Accreditation and Services", "한국식품안전관리인증원", [P.AGENCY])
    registry.site(AGENCY, "Osong head office", S.OTHER, "Chungbuk")
    registry.firm(ANCHOR, "Hanbit Foods", "한빛식품", [P.ANCHOR, P.PLANT], brand=("Hanbit", "한빛"))

    sources: dict[str, list[Source]] = {}
    for firm_id, name, name_ko, region, crops in FARMS:
        registry.firm(firm_id, name, name_ko, [P.FARM])
        field, number = registry.site(firm_id, f"{name} field", S.FARM, region)
        registry.certify(field, C.GAP, number=rng.randrange(1, 99_999), valid_from=since_random())
        for crop in crops:
            sources.setdefault(crop, []).append(registry.source(field, number, crop))
    for firm_id, name, name_ko, roles, site_name, kind, region, material in SUPPLIERS:
        registry.firm(firm_id, name, name_ko, roles)
        site, number = registry.site(firm_id, site_name, kind, region)
        registry.certify(site, C.HACCP, number=rng.randrange(1, 99_999), valid_from=since_random())
        sources.setdefault(material, []).append(registry.source(site, number, material))

    plants: list[tuple[Plant, bool]] = []
    for name, region, families in (
        ("Jincheon plant", "Chungbuk", ["tofu", "sprouts"]),
        ("Gwangju kimchi plant", "Gwangju", ["kimchi"]),
        ("Icheon noodle plant", "Gyeonggi", ["noodles"]),
    ):
        plant = registry.plant(ANCHOR, name, region, families, brand_owner=ANCHOR, lots_per_day=(1, 2))
        plants.append((plant, name != "Icheon noodle plant"))
    for firm_id, name, name_ko, region, families, smart, own in OEMS:
        registry.firm(firm_id, name, name_ko, [P.OEM, P.PLANT])
        plant = registry.plant(
            firm_id,
            f"{name} plant",
            region,
            families,
            brand_owner=ANCHOR,
            own_brand=own,
            lots_per_day=(0, 2),
        )
        plants.append((plant, smart))
    for plant, smart in plants:
        registry.certify(plant.site, C.HACCP, number=rng.randrange(1, 99_999), valid_from=since_random())
        if smart:
            registry.certify(plant.site, C.SMART_HACCP, number=rng.randrange(1, 99_999), valid_from=since_random())
        registry.supply(plant, sources)

    centres: list[DistributionCentre] = []
    for firm_id, name, name_ko, sites in DISTRIBUTORS:
        registry.firm(firm_id, name, name_ko, [P.DISTRIBUTOR])
        for site_name, kind, region in sites:
            centres.append(DistributionCentre(registry.site(firm_id, site_name, kind, region)[0]))
    directory.dcs = centres
    _retail(registry, centres)
    for plant, _ in plants:
        plant.dcs = [dc.site for dc in rng.sample(centres, 2)]

    flow = Flow(directory, rng=rng, start=BASE_TIME, days=DEMO_DAYS, inventory_days=5)
    events = Events()
    for day in range(DEMO_DAYS):
        events.extend(flow.day(day))
    events.inventory += flow.closing()
    return Cluster(
        firms=directory.firms,
        sites=directory.sites,
        certifications=directory.certifications,
        products=directory.products,
        channels=directory.channels,
        ccps=directory.ccps,
        lots=events.lots,
        transformations=events.transformations,
        shipments=events.shipments,
        inventory=events.inventory,
    )


def _retail(registry: Registry, centres: list[DistributionCentre]) -> None:
    """Three retailers and marketers with their stores, warehouses and school kitchens, and their channels."""
    cheonan, busan, icheon, pyeongtaek = centres

    def sites(firm_id: str, specs: list[tuple[str, SiteKind, str]]) -> list[SiteRecord]:
        return [registry.site(firm_id, name, kind, region)[0] for name, kind, region in specs]

    def goods(*families: str) -> list[str]:
        return [registry.product(ANCHOR, m).gtin for family in families for m in family_products(family)]

    registry.firm("green-table-mart", "Green Table Mart", "초록식탁마트", [P.RETAILER])
    stores = sites(
        "green-table-mart",
        [
            ("Green Table Mart Mapo", S.STORE, "Seoul"),
            ("Green Table Mart Gangnam", S.STORE, "Seoul"),
            ("Green Table Mart Suwon", S.STORE, "Gyeonggi"),
            ("Green Table Mart Daejeon", S.STORE, "Daejeon"),
            ("Green Table Mart Haeundae", S.STORE, "Busan"),
        ],
    )
    registry.firm("bapsang-market", "Bapsang Market", "밥상마켓", [P.MARKETER])
    fulfilment, export = sites(
        "bapsang-market",
        [
            ("Bapsang Gimpo fulfilment centre", S.WAREHOUSE, "Gyeonggi"),
            ("Bapsang Busan export depot", S.WAREHOUSE, "Busan"),
        ],
    )
    registry.firm("haneul-catering", "Haneul School Catering", "하늘학교급식", [P.RETAILER])
    kitchens = sites(
        "haneul-catering",
        [
            ("Mapo Elementary School kitchen", S.OTHER, "Seoul"),
            ("Suwon Middle School kitchen", S.OTHER, "Gyeonggi"),
            ("Daejeon High School kitchen", S.OTHER, "Daejeon"),
        ],
    )
    icheon.stores = [stores[0], stores[1], fulfilment, kitchens[0]]
    pyeongtaek.stores = [stores[2], fulfilment, kitchens[1]]
    cheonan.stores = [stores[3], stores[2], kitchens[2]]
    busan.stores = [stores[4], export]

    chodang_soft_tofu = registry.product("chodang-tofu", "soft_tofu").gtin
    registry.directory.channels += [
        SalesChannelRecord(
            id="green-table-stores",
            operator_firm_id="green-table-mart",
            name="Green Table Mart stores",
            kind=SalesChannelKind.RETAIL_CHAIN,
            store_glns=[s.gln for s in stores],
            listed_gtins=[*goods(*FAMILIES), chodang_soft_tofu],
        ),
        SalesChannelRecord(
            id="bapsang-online",
            operator_firm_id="bapsang-market",
            name="Bapsang online market",
            kind=SalesChannelKind.ONLINE_MARKETPLACE,
            store_glns=[fulfilment.gln],
            listed_gtins=[*goods("tofu", "kimchi", "noodles"), chodang_soft_tofu],
        ),
        SalesChannelRecord(
            id="bapsang-export",
            operator_firm_id="bapsang-market",
            name="Bapsang K-food export",
            kind=SalesChannelKind.EXPORT,
            store_glns=[export.gln],
            listed_gtins=[registry.product(ANCHOR, m).gtin for m in ("napa_kimchi", "radish_kimchi", "ramyeon")],
        ),
        SalesChannelRecord(
            id="haneul-school-meals",
            operator_firm_id="haneul-catering",
            name="Haneul school meals",
            kind=SalesChannelKind.INSTITUTIONAL_CATERING,
            store_glns=[k.gln for k in kitchens],
            listed_gtins=goods("tofu", "sprouts", "kimchi"),
        ),
    ]
