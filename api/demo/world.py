"""The demo's world: feeders, transformer areas, customers and their meters in 固原市, as plain rows.

Random streams seeded from the demo seed decide it all, so the same seed gives the same places, names, 户号
and mobiles; the fixed customers of `api.demo.showcase` land in the areas their roles need.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from api.core.ids import DISTRICT_NAMES
from api.demo.showcase import fixed_accounts
from api.demo.simulation import profiles
from api.geo.gazetteer import TOWNS, Town

DISTRICT_CODE = {d: i + 1 for i, d in enumerate(DISTRICT_NAMES)}  # account prefix "04" + "0N"
SEAT_NAME = {"原州区": "固原", "西吉县": "西吉", "隆德县": "隆德", "泾源县": "泾源", "彭阳县": "彭阳"}
AREA_SHARE = {"原州区": 0.32, "西吉县": 0.24, "隆德县": 0.14, "泾源县": 0.11, "彭阳县": 0.19}  # of the areas
DISTRICT_MIN_AREAS = {"原州区": 4, "西吉县": 2, "隆德县": 2, "泾源县": 2, "彭阳县": 2}
URBAN_FEEDER_NAMES = ("城南", "城北", "城东", "城西", "城中", "开发区", "新区", "东郊")
CN_NUM = "一二三四五六七八九十"

# Areas the fixed customers need: role -> (district, area classes in order of preference).
AREA_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "fault": ("原州区", ("城区",)),
    "normal": ("原州区", ("城区",)),
    "hh_urban": ("原州区", ("城区",)),
    "planned": ("原州区", ("城区", "农村")),
    "hh_rural": ("西吉县", ("农村", "边远")),
    "xiji_b": ("西吉县", ("农村", "城区", "边远")),
    "arrears": ("隆德县", ("城区", "农村", "边远")),
    "lowv": ("泾源县", ("边远", "农村")),
    "overload": ("彭阳县", ("农村", "边远")),
    "pengyang_b": ("彭阳县", ("城区", "农村", "边远")),
}
# Fixed customer role -> (area role, customer class, phases, contract kVA).
FIXED_PLAN: dict[str, tuple[str, str, int, int]] = {
    "area_outage": ("fault", "居民", 1, 8),
    "area_outage_neighbour": ("fault", "居民", 1, 8),
    "household_outage": ("hh_urban", "居民", 1, 8),
    "household_outage_rural": ("hh_rural", "居民", 1, 6),
    "normal": ("normal", "居民", 1, 8),
    "low_voltage": ("lowv", "居民", 1, 6),
    "overloaded_area": ("overload", "居民", 1, 8),
    "commercial": ("normal", "一般工商业", 3, 50),
    "arrears": ("arrears", "居民", 1, 8),
    "planned_outage": ("planned", "居民", 1, 8),
    "multi_account": ("normal", "居民", 1, 8),
    "multi_account_second": ("pengyang_b", "居民", 1, 6),
    "household_outage_3": ("arrears", "居民", 1, 6),
    "household_outage_4": ("pengyang_b", "居民", 1, 6),
    "household_outage_5": ("xiji_b", "居民", 1, 6),
    "low_voltage_2": ("lowv", "居民", 1, 6),
}

SURNAMES = (
    "马" * 14 + "王" * 8 + "李" * 8 + "张" * 6 + "杨" * 6 + "刘" * 5 + "海" * 2 + "田" * 2
    + "何" * 2 + "苏" * 2 + "周" * 2 + "赵" * 2 + "陈" * 2 + "吴郭韩丁穆虎冯高罗牛拓禹景魏"
    "黑撒金董姚白任胡安兰孙朱锁冶买余沙"
)
MALE_CHARS = "建国军伟强明志文海平福春宝德成华勇斌林东忠义学俊峰鹏飞龙涛辉超亮兵虎生贵彦云山仁"
FEMALE_CHARS = "秀兰英梅芳花玲娟霞丽燕红萍琴慧静艳娜婷雪莲凤桂珍琳月晓丹"
SHOP_KINDS = ("便民超市", "百货商店", "清真饭馆", "牛肉面馆", "理发店", "药店", "五金店",
              "农资店", "烧烤店", "宾馆", "干洗店", "手机店", "面粉店", "诊所")
RURAL_BUSINESS = ("肉牛养殖专业合作社", "冷库", "粮油加工坊", "农家乐", "种植专业合作社",
                  "砖厂", "苗木合作社", "村卫生室")
INDUSTRY_WORDS = ("六盘山", "清河", "葫芦河", "茹河", "泾河", "须弥", "萧关", "宝中")
INDUSTRY_KINDS = ("马铃薯淀粉有限公司", "建材有限公司", "水泥制品有限公司", "食品有限公司",
                  "冷链物流有限公司", "中药材加工有限公司", "牧业有限公司", "新型材料有限公司")
OVERLOAD_BUSINESS = ("肉牛养殖专业合作社", "冷库", "粮油加工坊")
STANDARD_KVA = (200, 250, 315, 400, 500, 630)


def _stem(town: Town) -> str:
    for suffix in ("街道", "镇", "乡"):
        if town.name.endswith(suffix):
            return town.name[: -len(suffix)]
    return town.name


def _places(town: Town) -> tuple[str, ...]:
    """Streets for urban towns, villages otherwise (never empty)."""
    if town.area_class == "城区" and town.roads:
        return town.roads
    return town.villages or town.roads or (f"{_stem(town)}村",)


def _jitter(rng: random.Random, value: float, spread: float) -> float:
    return round(value + rng.uniform(-spread, spread), 6)


def _person_name(rng: random.Random) -> str:
    chars = MALE_CHARS if rng.random() < 0.55 else FEMALE_CHARS
    given = rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.72 else "")
    return rng.choice(SURNAMES) + given


def _mobile(rng: random.Random, taken: set[str]) -> str:
    while True:
        number = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        if not number.startswith("1390000") and number not in taken:
            taken.add(number)
            return number


def _address(rng: random.Random, area: dict, town: Town, customer_class: str) -> str:
    head = f"{town.district}{town.name}"
    place = area["place"] if rng.random() < 0.85 else rng.choice(_places(town))
    if area["urban"]:
        number = rng.randint(1, 160)
        if customer_class != "居民" or rng.random() < 0.18:
            return f"{head}{place}{number}号"
        return (f"{head}{place}{number}号{rng.randint(1, 12)}号楼{rng.randint(1, 4)}单元"
                f"{rng.randint(1, 6)}{rng.randint(1, 2):02d}")
    group = CN_NUM[rng.randint(0, 7)]
    return f"{head}{place}{group}组{rng.randint(1, 60)}号"


def _business_name(rng: random.Random, area: dict, town: Town, customer_class: str,
                   overload: bool = False) -> str:
    if customer_class == "大工业":
        prefix = rng.choice(("宁夏", "固原", SEAT_NAME[town.district]))
        return f"{prefix}{rng.choice(INDUSTRY_WORDS)}{rng.choice(INDUSTRY_KINDS)}"
    if overload:
        return f"{area['place']}{rng.choice(OVERLOAD_BUSINESS)}"
    if area["urban"]:
        return f"{area['place']}{rng.choice(SHOP_KINDS)}"
    return f"{_stem(town)}{area['place'].removesuffix('村')}{rng.choice(RURAL_BUSINESS)}"


@dataclass
class World:
    """The grid and its customers as rows to insert; areas point at feeders by list index."""

    feeders: list[dict]
    areas: list[dict]
    customers: list[dict]
    meters: list[dict]  # parallel to customers
    role_area: dict[str, int]  # area role -> index in areas


def _area_counts(n_areas: int) -> dict[str, int]:
    """Transformer areas per district: by weight, at least the minimum the fixed roles need."""
    counts = {d: max(DISTRICT_MIN_AREAS[d], round(n_areas * AREA_SHARE[d])) for d in DISTRICT_NAMES}
    while sum(counts.values()) > n_areas and counts["原州区"] > DISTRICT_MIN_AREAS["原州区"]:
        counts["原州区"] -= 1
    while sum(counts.values()) < n_areas:
        counts["原州区"] += 1
    return counts


def build_world(seed: int, n_customers: int) -> World:
    """Feeders, areas, customers and meters as plain rows (no ids yet)."""
    if n_customers < 40:
        raise ValueError("the demo needs at least 40 customers")
    rng = random.Random(f"zhidian-demo:{seed}")
    n_areas = max(12, min(200, n_customers // 45))
    per_district = _area_counts(n_areas)
    towns_by_district = {d: [t for t in TOWNS if t.district == d] for d in DISTRICT_NAMES}
    missing = [d for d in DISTRICT_NAMES if not towns_by_district[d]]
    if missing:
        raise RuntimeError(f"gazetteer has no towns for {missing}")

    areas: list[dict] = []
    role_area: dict[str, int] = {}
    name_count: dict[str, int] = defaultdict(int)
    for district in DISTRICT_NAMES:
        towns = towns_by_district[district]
        roles = [r for r, (d, _) in AREA_ROLES.items() if d == district]
        used_towns: list[str] = []
        for slot in range(per_district[district]):
            role = roles[slot] if slot < len(roles) else None
            if role is not None:
                town = None
                for wanted in AREA_ROLES[role][1]:
                    options = [t for t in towns if t.area_class == wanted]
                    fresh = [t for t in options if t.name not in used_towns] or options
                    if fresh:
                        town = rng.choice(fresh)
                        break
                town = town or rng.choice(towns)
            else:
                weights = [{"城区": 3.0, "农村": 1.0, "边远": 0.5}.get(t.area_class, 1.0) for t in towns]
                town = rng.choices(towns, weights=weights)[0]
            used_towns.append(town.name)
            place = rng.choice(_places(town))
            name_count[place] += 1
            urban = town.area_class == "城区" and bool(town.roads)
            spread = 0.008 if urban else 0.025
            areas.append({
                "district": district, "town": town.name, "town_obj": town, "area_class": town.area_class,
                "place": place, "urban": urban, "role": role,
                "name": f"{place}{name_count[place]}号台区",
                "code": f"TA{DISTRICT_CODE[district]:02d}{slot + 1:02d}",
                "lat": _jitter(rng, town.lat, spread), "lon": _jitter(rng, town.lon, spread),
            })
            if role is not None:
                role_area[role] = len(areas) - 1

    # feeders: per district, urban areas first, split into contiguous groups
    n_feeders = max(8, n_areas // 4)
    feeders_per = {d: 1 for d in DISTRICT_NAMES}
    while sum(feeders_per.values()) < n_feeders:
        d = max(DISTRICT_NAMES, key=lambda x: per_district[x] / (feeders_per[x] + 1) - feeders_per[x] * 1e-9)
        if feeders_per[d] >= per_district[d]:
            break
        feeders_per[d] += 1
    feeders: list[dict] = []
    number = 511
    for district in DISTRICT_NAMES:
        members = sorted((i for i, a in enumerate(areas) if a["district"] == district),
                         key=lambda i: (not areas[i]["urban"], areas[i]["town"], areas[i]["code"]))
        k = feeders_per[district]
        urban_names = iter(URBAN_FEEDER_NAMES)
        seen: dict[str, int] = defaultdict(int)
        for g in range(k):
            group = members[g * len(members) // k:(g + 1) * len(members) // k]
            if not group:
                continue
            first = areas[group[0]]
            town = first["town_obj"]
            if first["urban"]:
                if district == "原州区":
                    base = next(urban_names, _stem(town))
                else:
                    base = _stem(town)
                substation = f"110kV{SEAT_NAME[district]}变"
            else:
                base = _stem(town)
                substation = f"35kV{_stem(town)}变"
            seen[base] += 1
            label = base if seen[base] == 1 else f"{base}{CN_NUM[seen[base] - 1]}"
            feeders.append({"code": f"F{number}", "name": f"10kV{label}线{number}",
                            "substation": substation, "district": district})
            for i in group:
                areas[i]["feeder"] = len(feeders) - 1
            number += 1

    # customers per area
    fixed = fixed_accounts()
    fixed_by_area: dict[int, list[str]] = defaultdict(list)
    for role, (area_role, *_rest) in FIXED_PLAN.items():
        fixed_by_area[role_area[area_role]].append(role)
    minimum = []
    for i, a in enumerate(areas):
        low = len(fixed_by_area[i]) + 2
        if a["role"] == "fault":
            low = max(low, max(6, min(40, n_customers // 12)))
        if a["role"] == "overload":
            low = max(low, max(10, min(150, int(n_customers * 0.06))) + 3)
        minimum.append(low)
    weights = [{"城区": 1.5, "农村": 1.0, "边远": 0.6}.get(a["area_class"], 1.0) * rng.uniform(0.7, 1.3)
               for a in areas]
    spare = n_customers - sum(minimum)
    if spare < 0:
        raise ValueError("too few customers for the number of areas")
    raw = [spare * w / sum(weights) for w in weights]
    counts = [minimum[i] + int(raw[i]) for i in range(len(areas))]
    order = sorted(range(len(areas)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in order[: n_customers - sum(counts)]:
        counts[i] += 1

    # 大工业: at most two per ordinary area
    n_industry = max(1, n_customers // 200)
    plain = [i for i, a in enumerate(areas) if a["role"] is None] or \
            [i for i, a in enumerate(areas) if a["role"] in ("pengyang_b", "xiji_b", "arrears")]
    rng.shuffle(plain)
    industry_slots: dict[int, int] = defaultdict(int)
    for k in range(n_industry):
        industry_slots[plain[(k // 2) % len(plain)]] += 1

    serials = {d: iter(rng.sample(range(100000, 1000000), n_customers)) for d in DISTRICT_NAMES}
    taken_mobiles = {m for _, m in fixed.values()}
    meter_nos: set[str] = set()
    by_district_mobiles: dict[str, list[str]] = defaultdict(list)
    customers: list[dict] = []
    meters: list[dict] = []
    for i, a in enumerate(areas):
        town = a["town_obj"]
        plan: list[tuple[str | None, str, int, int]] = []  # (fixed role, class, phases, contract)
        for role in fixed_by_area[i]:
            _, klass, phases, contract = FIXED_PLAN[role]
            plan.append((role, klass, phases, contract))
        n_generated = counts[i] - len(plan)
        n_ind = min(industry_slots.get(i, 0), n_generated)
        n_overload_business = 3 if a["role"] == "overload" else 0
        com_share = {"城区": 0.14, "农村": 0.06, "边远": 0.04}.get(a["area_class"], 0.06)
        for g in range(n_generated):
            if g < n_ind:
                plan.append((None, "大工业", 3, rng.choice((315, 400))))
            elif g < n_ind + n_overload_business:
                plan.append(("_overload_business", "一般工商业", 3, 100))
            elif rng.random() < com_share:
                contract = rng.choice((10, 15, 20, 30, 50, 80))
                plan.append((None, "一般工商业", 3 if contract >= 20 else 1, contract))
            else:
                plan.append((None, "居民", 1, rng.choice((4, 6, 8, 8, 10))))
        for role, klass, phases, contract in plan:
            district = a["district"]
            if role in fixed:
                account_no, mobile = fixed[role]
            else:
                account_no = f"04{DISTRICT_CODE[district]:02d}{next(serials[district]):06d}"
                pool = by_district_mobiles[district]
                if pool and rng.random() < 0.03:
                    mobile = rng.choice(pool)
                else:
                    mobile = _mobile(rng, taken_mobiles)
                    pool.append(mobile)
            if klass == "居民":
                name = _person_name(rng)
                urban_tou = 0.15 if a["urban"] else 0.08
                tariff = "NX-RES-TOU" if role not in fixed and rng.random() < urban_tou else "NX-RES-TIER"
            else:
                name = _business_name(rng, a, town, klass, overload=role == "_overload_business")
                tariff = "NX-GC" if klass == "一般工商业" else "NX-LI"
            opened = date(rng.randint(1996, 2023), rng.randint(1, 12), rng.randint(1, 28))
            installed = max(opened, date(rng.randint(2016, 2024), rng.randint(1, 12), rng.randint(1, 28)))
            spread = 0.004 if a["urban"] else 0.012
            customers.append({
                "account_no": account_no, "name": name, "mobile": mobile,
                "address": _address(rng, a, town, klass),
                "district": district, "town": a["town"], "area_class": a["area_class"],
                "lat": _jitter(rng, a["lat"], spread), "lon": _jitter(rng, a["lon"], spread),
                "customer_class": klass, "tariff_code": tariff,
                "contract_capacity_kva": Decimal(contract), "area_index": i, "opened_on": opened,
            })
            while True:
                meter_no = f"64{DISTRICT_CODE[district]:02d}" + "".join(rng.choice("0123456789") for _ in range(12))
                if meter_no not in meter_nos:
                    meter_nos.add(meter_no)
                    break
            meters.append({"meter_no": meter_no, "phases": phases, "installed_on": installed})
    return World(feeders=feeders, areas=areas, customers=customers, meters=meters, role_area=role_area)


def size_transformers(world: World, seed: int) -> None:
    """Pick each area's transformer size from its expected peak (the overloaded one gets 200 kVA)."""
    rng = random.Random(f"zhidian-capacity:{seed}")
    expected = _expected_peaks(world)
    for i, a in enumerate(world.areas):
        if a["role"] == "overload":
            a["capacity_kva"] = Decimal(200)
            continue
        need = expected.get(i, 0.0) / 0.7
        fitting = [k for k in STANDARD_KVA if k >= need] or [STANDARD_KVA[-1]]
        pick = rng.choice(STANDARD_KVA[:4] if not a["urban"] else STANDARD_KVA[1:])
        a["capacity_kva"] = Decimal(max(fitting[0], pick))


def _expected_peaks(world: World) -> dict[int, float]:
    """Each area's rough peak kW, from the load model's parameters of its customers."""
    rows = []
    for k, (c, m) in enumerate(zip(world.customers, world.meters)):
        a = world.areas[c["area_index"]]
        rows.append({"meter_id": k, "meter_no": m["meter_no"], "phases": m["phases"],
                     "customer_class": c["customer_class"], "tariff_code": c["tariff_code"],
                     "contract_capacity_kva": c["contract_capacity_kva"], "district": c["district"],
                     "area_class": a["area_class"], "area_code": a["code"], "account_no": c["account_no"]})
    pre = profiles(rows, set())
    peak_of_class = np.array([3.2, 2.0, 1.35])
    expected: dict[int, float] = defaultdict(float)
    for k, c in enumerate(world.customers):
        expected[c["area_index"]] += float(pre.level[k] * peak_of_class[pre.klass[k]] * (1 + 20 * pre.heat[k]))
    return expected
