"""Address parsing and gazetteer matching (api.geo.address)."""
from __future__ import annotations

import math
import statistics
import time

import pytest

from api.geo import gazetteer
from api.geo.address import AddressParser, get_parser, normalize


@pytest.fixture(scope="module")
def parser() -> AddressParser:
    return get_parser()


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371 * 2 * math.asin(math.sqrt(a))


def _near_town(result, name: str, km: float = 3.0) -> bool:
    t = gazetteer.town(name)
    return result.lat is not None and _km(result.lat, result.lon, t.lat, t.lon) <= km


# ------------------------------------------------------------------ gazetteer


def test_gazetteer_shape_and_lookups():
    assert set(gazetteer.DISTRICTS) == {"原州区", "西吉县", "隆德县", "泾源县", "彭阳县"}
    assert {t.district for t in gazetteer.TOWNS} == set(gazetteer.DISTRICTS)
    assert len({t.name for t in gazetteer.TOWNS}) == len(gazetteer.TOWNS)
    for t in gazetteer.TOWNS:
        assert t.kind in ("街道", "镇", "乡") and t.name.endswith(t.kind)
        assert t.area_class in gazetteer.AREA_CLASS_MINUTES
        assert 35.2 < t.lat < 36.6 and 105.3 < t.lon < 107.0  # inside 固原市
        assert gazetteer.town(t.name) is t
        assert t in gazetteer.towns_of(t.district)
    assert gazetteer.town("三营镇").district == "原州区"
    assert gazetteer.town("吉强镇").area_class == "城区"
    assert gazetteer.town("不存在镇") is None
    assert gazetteer.towns_of("银川市") == ()
    for name in ("南关街道", "古雁街道", "北塬街道"):
        assert gazetteer.town(name).area_class == "城区"
    assert any(t.area_class == "边远" for t in gazetteer.TOWNS)


def test_gazetteer_names_survive_normalization():
    names = [t.name for t in gazetteer.TOWNS]
    names += [n for t in gazetteer.TOWNS for n in t.roads + t.villages]
    assert [n for n in names if normalize(n) != n] == []


# ------------------------------------------------------------------ normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("文化街２８号", "文化街28号"),
        ("  原州区 ，文化街 28 号！！ ", "原州区文化街28号"),
        ("龙王坝村二组", "龙王坝村2组"),
        ("文化街二十八号三号楼两单元四零一室", "文化街28号3号楼2单元401室"),
        ("红崖村十队", "红崖村10队"),
        ("3#楼", "3号楼"),
        ("3—2—401", "3-2-401"),
        ("三营镇六盘山路十八里村", "三营镇六盘山路十八里村"),  # numerals in names stay
        ("南城社区", "南城社区"),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


# ------------------------------------------------------------------ parse: full addresses


def test_urban_road_with_building_unit_room(parser):
    r = parser.parse("原州区文化街28号3号楼2单元401")
    assert (r.district, r.town, r.road) == ("原州区", "南关街道", "文化街")
    assert (r.number, r.building, r.unit, r.room) == ("28", "3", "2", "401")
    assert r.level == "road" and r.matched and not r.needs_review
    assert r.area_class == "城区" and r.confidence >= 0.9
    assert _near_town(r, "南关街道")


def test_city_district_street_road(parser):
    r = parser.parse("固原市原州区南关街道西城路12号")
    assert (r.district, r.town, r.road, r.number) == ("原州区", "南关街道", "西城路", "12")
    assert r.level == "road" and not r.needs_review and r.issues == ()


def test_village_with_group_in_sentence(parser):
    r = parser.parse("我家在西吉县吉强镇龙王坝村二组")
    assert (r.district, r.town, r.village, r.group) == ("西吉县", "吉强镇", "龙王坝村", "2")
    assert r.level == "village" and r.matched and not r.needs_review
    assert r.area_class == "农村"  # a 村 of the county seat is not 城区
    assert r.normalized == "我家在西吉县吉强镇龙王坝村2组"
    assert r.raw == "我家在西吉县吉强镇龙王坝村二组"
    assert _near_town(r, "吉强镇")


def test_county_town_village(parser):
    r = parser.parse("隆德县城关镇红崖村")
    assert (r.district, r.town, r.village) == ("隆德县", "城关镇", "红崖村")
    assert r.level == "village" and not r.needs_review
    assert _near_town(r, "城关镇")


def test_short_district_name(parser):
    r = parser.parse("彭阳白阳镇")
    assert (r.district, r.town, r.level) == ("彭阳县", "白阳镇", "town")
    assert r.area_class == "城区" and not r.needs_review


def test_unique_road_infers_district(parser):
    r = parser.parse("文化街28号")
    assert (r.district, r.town, r.road, r.number) == ("原州区", "南关街道", "文化街", "28")
    assert r.level == "road" and r.matched and not r.needs_review
    assert "district_inferred" in r.issues
    full = parser.parse("原州区文化街28号")
    assert r.confidence < full.confidence


def test_town_only(parser):
    r = parser.parse("三营镇")
    assert (r.district, r.town, r.level, r.area_class) == ("原州区", "三营镇", "town", "农村")
    assert r.matched and not r.needs_review
    assert _near_town(r, "三营镇", km=0.1)


def test_full_width_digits_and_noise(parser):
    a = parser.parse("文化街２８号")
    b = parser.parse("  原州区 ，文化街 28 号！！ ")
    assert a.road == b.road == "文化街" and a.number == b.number == "28"
    assert b.district == "原州区" and b.normalized == "原州区文化街28号"


def test_aliases(parser):
    assert parser.parse("西吉县城团结路3号").town == "吉强镇"
    assert parser.parse("固原市区").district == "原州区"
    assert parser.parse("龙王坝二组").village == "龙王坝村"
    r = parser.parse("三营金轮村三队")
    assert (r.town, r.village, r.group) == ("三营镇", "金轮村", "3")
    assert parser.parse("陈靳镇").town == "陈靳乡"  # 乡/镇 mixed up


def test_segmentation_does_not_split_names(parser):
    # 隆德县城 is an alias of 城关镇, yet 隆德县城关镇 is 隆德县 + 城关镇
    r = parser.parse("隆德县城关镇")
    assert (r.district, r.town) == ("隆德县", "城关镇") and r.issues == ()
    tokens = [t.text for t in parser.nlp(normalize("我家在西吉县吉强镇龙王坝村二组"))]
    assert "龙王坝村" in tokens and "吉强镇" in tokens


def test_every_gazetteer_name_is_recognised(parser):
    for t in gazetteer.TOWNS:
        r = parser.parse(f"{t.district}{t.name}")
        assert (r.district, r.town) == (t.district, t.name), t.name
        for village in t.villages:
            r = parser.parse(f"我家在{t.name}{village}3组")
            assert (r.town, r.village, r.group) == (t.name, village, "3"), village
        for road in t.roads:
            r = parser.parse(f"{t.district}{road}15号")
            assert (r.town, r.road, r.number) == (t.name, road, "15"), road


def test_house_number_forms(parser):
    r = parser.parse("文化街28号3-2-401")
    assert (r.number, r.building, r.unit, r.room) == ("28", "3", "2", "401")
    r = parser.parse("原州区文化街28号院5栋1单元302室")
    assert (r.number, r.building, r.unit, r.room) == ("28", "5", "1", "302")
    assert parser.parse("原州区文化街28").number == "28"
    assert parser.parse("原州区文化街28-1号").number == "28-1"


# ------------------------------------------------------------------ review and ambiguity


def test_outside_guyuan_needs_review(parser):
    for text in ("北京市朝阳区建国路88号", "甘肃省平凉市崆峒区", "银川市兴庆区文化街3号"):
        r = parser.parse(text)
        assert not r.matched and r.needs_review and r.level == "none", text
        assert r.district is None and r.town is None and r.road is None and r.lat is None
        assert r.raw == text and "outside_guyuan" in r.issues


@pytest.mark.parametrize("text", ["我家门口", "固原市", "", "  ", "停电了快来修"])
def test_nothing_recognised(parser, text):
    r = parser.parse(text)
    assert not r.matched and r.needs_review and r.level == "none"
    assert r.confidence == 0 and r.lat is None and r.district is None
    assert r.raw == text


def test_road_in_two_districts_is_ambiguous(parser):
    r = parser.parse("长城路5号")  # 原州区北塬街道 and 彭阳县白阳镇
    assert r.road == "长城路" and r.number == "5"
    assert not r.matched and r.needs_review and r.district is None and r.lat is None
    assert "ambiguous_road" in r.issues and r.confidence < 0.5
    resolved = parser.parse("彭阳县长城路5号")
    assert (resolved.district, resolved.town, resolved.level) == ("彭阳县", "白阳镇", "road")
    assert not resolved.needs_review and resolved.confidence > r.confidence
    assert parser.parse("原州区长城路5号").town == "北塬街道"


def test_village_in_two_towns_of_one_district(parser):
    r = parser.parse("泾源县红旗村")  # 新民乡 and 兴盛乡
    assert r.district == "泾源县" and r.town is None and r.level == "district"
    assert r.matched and r.needs_review and "ambiguous_village" in r.issues
    assert parser.parse("泾源县新民乡红旗村").town == "新民乡"


def test_town_not_in_stated_district_lowers_match(parser):
    r = parser.parse("原州区吉强镇")
    assert r.town == "吉强镇" and r.district == "西吉县"
    assert "town_not_in_district" in r.issues
    assert r.needs_review and r.confidence < parser.parse("西吉县吉强镇").confidence


def test_road_not_in_stated_town_lowers_match(parser):
    r = parser.parse("南关街道北京路8号")
    assert r.road == "北京路" and r.town == "北塬街道" and r.needs_review
    assert "town_mismatch" in r.issues


def test_district_only(parser):
    r = parser.parse("原州区")
    assert r.district == "原州区" and r.level == "district" and r.town is None
    assert r.matched and r.needs_review
    assert (r.lat, r.lon) == gazetteer.DISTRICTS["原州区"]


# ------------------------------------------------------------------ wiring and speed


def test_get_parser_is_cached_and_lazy():
    import api.geo.address as address

    assert get_parser() is get_parser()
    assert not any(isinstance(v, AddressParser) for v in vars(address).values())


def test_jieba_global_dictionary_untouched(parser):
    import jieba

    parser.parse("我家在西吉县吉强镇龙王坝村二组")
    assert "龙王坝村" not in jieba.dt.FREQ


def test_parse_is_fast(parser):
    texts = ["原州区文化街28号3号楼2单元401", "我家在西吉县吉强镇龙王坝村二组",
             "北京市朝阳区建国路88号", "文化街２８号", "隆德县城关镇红崖村"]
    for text in texts:
        parser.parse(text)
    timings = []
    for _ in range(40):
        for text in texts:
            start = time.perf_counter()
            parser.parse(text)
            timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.005
