"""What the cluster makes and where: materials, recipes, HACCP control points and Korean place names.

Quantities are per unit of the output (a 300 g tofu pack needs about 0.11 kg of soybean), so a lot of
3,000 packs draws a believable amount from its input lots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Material:
    """A kind of product: a raw material, an intermediate or a finished good."""

    key: str
    name: str
    name_ko: str
    category: str
    uom: str
    shelf_days: int
    lot_size: tuple[int, int]


@dataclass(frozen=True)
class Recipe:
    """How one finished or intermediate good is made: input materials with the amount per output unit."""

    output: str
    family: str
    inputs: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class CcpTemplate:
    code: str
    name: str
    hazard: str
    limit_low: float | None
    limit_high: float | None
    unit: str
    interval_seconds: int  # how often its device reports
    device: str  # the kind of device, part of its id


@dataclass(frozen=True)
class Place:
    name: str
    name_ko: str
    region: str


RAW = "Raw material"
_MATERIALS: Final = (
    Material("soybean", "Soybean", "대두", f"{RAW} / legumes", "kg", 365, (2_000, 8_000)),
    Material("mung_bean", "Mung bean", "녹두", f"{RAW} / legumes", "kg", 365, (800, 3_000)),
    Material("napa_cabbage", "Napa cabbage", "배추", f"{RAW} / vegetables", "kg", 20, (4_000, 15_000)),
    Material("radish", "Korean radish", "무", f"{RAW} / vegetables", "kg", 30, (3_000, 10_000)),
    Material("red_pepper", "Red pepper powder", "고춧가루", f"{RAW} / spices", "kg", 365, (500, 2_000)),
    Material("garlic", "Garlic", "마늘", f"{RAW} / vegetables", "kg", 180, (500, 2_500)),
    Material("ginger", "Ginger", "생강", f"{RAW} / vegetables", "kg", 90, (200, 800)),
    Material("sea_salt", "Sea salt", "천일염", f"{RAW} / salt", "kg", 1_095, (5_000, 20_000)),
    Material("wheat_flour", "Wheat flour", "밀가루", f"{RAW} / flour", "kg", 365, (10_000, 25_000)),
    Material(
        "nigari", "Tofu coagulant (nigari)", "두부응고제(간수)", f"{RAW} / food additive", "kg", 730, (500, 2_000)
    ),
    Material("kimchi_seasoning", "Kimchi seasoning", "김치양념", "Intermediate / seasoning", "kg", 5, (800, 2_500)),
    Material("firm_tofu", "Firm tofu 300 g", "부침두부 300g", "Tofu", "EA", 14, (2_000, 6_000)),
    Material("soft_tofu", "Soft tofu 350 g", "순두부 350g", "Tofu", "EA", 10, (2_000, 5_000)),
    Material("bean_sprouts", "Bean sprouts 340 g", "콩나물 340g", "Sprouts", "EA", 7, (3_000, 8_000)),
    Material("mung_bean_sprouts", "Mung bean sprouts 250 g", "숙주나물 250g", "Sprouts", "EA", 6, (2_000, 6_000)),
    Material("napa_kimchi", "Napa cabbage kimchi", "배추김치", "Kimchi", "kg", 60, (1_000, 4_000)),
    Material("radish_kimchi", "Radish kimchi (kkakdugi)", "깍두기", "Kimchi", "kg", 45, (500, 2_000)),
    Material("kalguksu", "Knife-cut noodles 800 g", "칼국수 800g", "Noodles", "EA", 30, (2_000, 6_000)),
    Material("ramyeon", "Ramyeon noodles 120 g", "라면 120g", "Noodles", "EA", 180, (10_000, 40_000)),
)
MATERIALS: Final[dict[str, Material]] = {m.key: m for m in _MATERIALS}

# Families group what one production line makes; a plant runs one or more families.
RECIPES: Final[dict[str, Recipe]] = {
    r.output: r
    for r in (
        Recipe("firm_tofu", "tofu", (("soybean", 0.11), ("nigari", 0.003))),
        Recipe("soft_tofu", "tofu", (("soybean", 0.08), ("nigari", 0.002))),
        Recipe("bean_sprouts", "sprouts", (("soybean", 0.05),)),
        Recipe("mung_bean_sprouts", "sprouts", (("mung_bean", 0.04),)),
        Recipe(
            "kimchi_seasoning",
            "kimchi",
            (("red_pepper", 0.25), ("garlic", 0.2), ("ginger", 0.05), ("sea_salt", 0.04)),
        ),
        Recipe("napa_kimchi", "kimchi", (("napa_cabbage", 1.2), ("kimchi_seasoning", 0.25), ("sea_salt", 0.03))),
        Recipe(
            "radish_kimchi", "kimchi", (("radish", 0.9), ("red_pepper", 0.04), ("garlic", 0.03), ("sea_salt", 0.02))
        ),
        Recipe("kalguksu", "noodles", (("wheat_flour", 0.6), ("sea_salt", 0.01))),
        Recipe("ramyeon", "noodles", (("wheat_flour", 0.085), ("sea_salt", 0.002))),
    )
}
FAMILIES: Final = ("tofu", "sprouts", "kimchi", "noodles")
# Made and consumed inside one plant, so it is owned by the plant's firm, not the brand owner.
INTERMEDIATES: Final = frozenset({"kimchi_seasoning"})
FARM_CROPS: Final = ("soybean", "mung_bean", "napa_cabbage", "radish", "red_pepper", "garlic", "ginger")
# Raw materials that come from a supplier's plant (or salt pan) rather than a GAP farm.
SUPPLIED: Final = ("sea_salt", "wheat_flour", "nigari")


def family_products(family: str) -> list[str]:
    """The sellable goods of a family, in recipe order."""
    return [r.output for r in RECIPES.values() if r.family == family and r.output not in INTERMEDIATES]


def family_materials(family: str) -> set[str]:
    """Every raw material a family's recipes draw on (intermediates excluded)."""
    keys = {key for r in RECIPES.values() if r.family == family for key, _ in r.inputs}
    return keys - INTERMEDIATES


_HEATING: Final = CcpTemplate(
    "CCP-1B", "Heating (soy milk boiling)", "Biological: vegetative pathogens", 85, 100, "°C", 10, "tt"
)
_STEAMING: Final = CcpTemplate(
    "CCP-1B", "Steaming of noodles", "Biological: vegetative pathogens", 85, 100, "°C", 10, "tt"
)
_WASHING: Final = CcpTemplate(
    "CCP-1B", "Washing and sanitising (chlorinated water)", "Biological: E. coli, Salmonella", 50, 100, "ppm", 60, "cl"
)
# a pass/fail check against a limit like any other: the largest test piece that passed undetected, in mm
_METAL: Final = CcpTemplate(
    "CCP-2P",
    "Metal detection (Fe 2.0 mm, STS 2.5 mm test pieces)",
    "Physical: metal fragments",
    None,
    2.0,
    "mm",
    60,
    "md",
)
_COOLING: Final = CcpTemplate(
    "CCP-3B", "Cooling after heating", "Biological: spore germination", None, 10, "°C", 30, "tt"
)
CCPS: Final[dict[str, tuple[CcpTemplate, ...]]] = {
    "tofu": (_HEATING, _METAL, _COOLING),
    "sprouts": (_WASHING, _METAL),
    "kimchi": (_WASHING, _METAL),
    "noodles": (_STEAMING, _METAL, _COOLING),
}

PLACES: Final = tuple(
    Place(*fields)
    for fields in (
        ("Haenam", "해남", "Jeonnam"),
        ("Muan", "무안", "Jeonnam"),
        ("Naju", "나주", "Jeonnam"),
        ("Gangjin", "강진", "Jeonnam"),
        ("Sinan", "신안", "Jeonnam"),
        ("Goesan", "괴산", "Chungbuk"),
        ("Eumseong", "음성", "Chungbuk"),
        ("Jincheon", "진천", "Chungbuk"),
        ("Danyang", "단양", "Chungbuk"),
        ("Seosan", "서산", "Chungnam"),
        ("Yesan", "예산", "Chungnam"),
        ("Cheongyang", "청양", "Chungnam"),
        ("Cheonan", "천안", "Chungnam"),
        ("Paju", "파주", "Gyeonggi"),
        ("Yeoncheon", "연천", "Gyeonggi"),
        ("Icheon", "이천", "Gyeonggi"),
        ("Gimpo", "김포", "Gyeonggi"),
        ("Pyeongtaek", "평택", "Gyeonggi"),
        ("Jeongseon", "정선", "Gangwon"),
        ("Pyeongchang", "평창", "Gangwon"),
        ("Hongcheon", "홍천", "Gangwon"),
        ("Gangneung", "강릉", "Gangwon"),
        ("Yeongyang", "영양", "Gyeongbuk"),
        ("Uiseong", "의성", "Gyeongbuk"),
        ("Andong", "안동", "Gyeongbuk"),
        ("Sangju", "상주", "Gyeongbuk"),
        ("Gimje", "김제", "Jeonbuk"),
        ("Gochang", "고창", "Jeonbuk"),
        ("Sunchang", "순창", "Jeonbuk"),
        ("Gimhae", "김해", "Gyeongnam"),
        ("Jinju", "진주", "Gyeongnam"),
        ("Seoul", "서울", "Seoul"),
        ("Busan", "부산", "Busan"),
        ("Incheon", "인천", "Incheon"),
        ("Daegu", "대구", "Daegu"),
        ("Gwangju", "광주", "Gwangju"),
        ("Daejeon", "대전", "Daejeon"),
        ("Jeju", "제주", "Jeju"),
    )
)
# Words that make firm names; pairs of (English, Korean).
NAME_WORDS: Final = (
    ("Green", "그린"),
    ("Sunny", "햇살"),
    ("Blue Sky", "푸른하늘"),
    ("Golden Field", "황금들"),
    ("Clear Water", "맑은물"),
    ("Hanul", "한울"),
    ("Saebyeok", "새벽"),
    ("Dure", "두레"),
    ("Hansol", "한솔"),
    ("Nuri", "누리"),
    ("Bomnal", "봄날"),
    ("Sanmaru", "산마루"),
)
