"""Parse free-text Chinese addresses and match them to the 固原市 gazetteer.

Pipeline (built once by :class:`AddressParser`, never at import time):

1. :func:`normalize` — NFKC / ASCII digits (``api.core.ids.normalize_text``), punctuation and
   spaces removed, ``3#楼`` → ``3号楼``, Chinese numerals before a house-number word
   converted to ASCII digits (``二组`` → ``2组``, ``二十八号`` → ``28号``). The normalized
   text keeps only the digit form; the verbatim input stays in ``ParsedAddress.raw``.
2. spaCy ``blank("zh")`` with the jieba segmenter. spaCy calls ``.cut(text, cut_all=False)``
   on the global ``jieba`` module; this pipeline replaces that object (``tokenizer.jieba_seg``)
   with :class:`GazetteerSegmenter`, which first cuts every gazetteer name and alias out of
   the text as one token (phrase level, so jieba can never split 龙王坝村 or glue 县城 to
   关镇) and lets the *global* jieba segment only the gaps. Global jieba state (its
   dictionary and user words) is never modified.
3. An ``entity_ruler`` with phrase patterns from the gazetteer: labels CITY, DISTRICT, TOWN,
   ROAD, VILLAGE; each pattern's ``id`` is the canonical gazetteer name (原州 → 原州区,
   西吉县城 → 吉强镇, 陈靳镇 → 陈靳乡 …).
4. Regex rules for the house-number parts (号, 号楼/栋/幢, 单元, 室, 组/队/社, 3-2-401).
5. Matching: the candidate towns of the recognised road / village / town are scored against
   the stated district and town; conflicts and ambiguity lower the confidence. If nothing
   beyond the city is recognised, or the text names another city or county, the result is
   ``matched=False, needs_review=True`` and nothing is guessed. ``area_class`` is the
   town's, except that a 村 of a 城区 town (e.g. 吉强镇龙王坝村) is served as 农村.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from api.geo import gazetteer
from api.geo.schemas import MatchLevel, ParsedAddress
from api.core.ids import normalize_text

__all__ = ["AddressParser", "GazetteerSegmenter", "get_parser", "normalize"]

# ----------------------------------------------------------------------------- normalize

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
# A Chinese numeral directly before a house-number word: only there is it unambiguous
# (三营镇, 六盘山路, 十八里村 keep their numerals).
_CN_NUMBER = re.compile(
    r"([零〇一二两三四五六七八九十百千]{1,6})(?=号|栋|幢|单元|室|楼|层|组|队|社(?!区))"
)
_HASH_NUMBER = re.compile(r"(\d)#")
_DASHES = re.compile(r"[‐‑‒–—―~〜]")
_STRAY_DASH = re.compile(r"(?<!\d)-+|-+(?!\d)")


def _cn_numeral(text: str) -> str:
    """二十八 → 28, 十 → 10, 一百零一 → 101, 四零一 → 401 (digit by digit without units)."""
    if all(ch in _CN_DIGITS for ch in text):
        return "".join(str(_CN_DIGITS[ch]) for ch in text)
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        else:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
    return str(total + current)


def normalize(text: str) -> str:
    """Normalise an address: NFKC, ASCII digits, no spaces or punctuation, 二组 → 2组."""
    text = normalize_text(text)
    text = _DASHES.sub("-", text)
    text = _HASH_NUMBER.sub(r"\1号", text)
    text = "".join(
        ch for ch in text
        if ch == "-" or not (ch.isspace() or unicodedata.category(ch)[0] in "PSZC")
    )
    text = _STRAY_DASH.sub("", text)
    return _CN_NUMBER.sub(lambda m: _cn_numeral(m.group(1)), text)


# ----------------------------------------------------------------------------- aliases

# Town stems too common as ordinary words or place names elsewhere to stand alone
# (香水 = perfume, 城关 exists in every county of China, 六盘山 is the mountain …).
_GENERIC_TOWN_STEMS = frozenset({
    "城关", "香水", "六盘山", "河川", "中河", "清河", "红河", "古城", "新民", "兴盛", "黄花",
    "大湾", "好水", "山河", "新集", "城阳", "兴隆", "沙沟", "白崖", "新营", "杨河", "冯庄",
    "什字",
})
_COUNTY_SEATS = {"西吉": "吉强镇", "隆德": "城关镇", "泾源": "香水镇", "彭阳": "白阳镇"}
_CITY_ALIASES = ("固原市", "固原")
_DISTRICT_ALIASES = {"固原市区": "原州区", "固原城区": "原州区", "固原县": "原州区"}
# Administrative words that are ours or above us: never evidence of a foreign address.
_HOME_ADMIN = frozenset({"宁夏", "宁夏回族自治区", "宁夏自治区", "宁夏省", "固原市", "固原"})
_FOREIGN_ADMIN = re.compile(r"^[\u4e00-\u9fff]{2,7}(?:省|市|县|区|自治州|盟|旗)$")
_NOT_ADMIN_SUFFIX = (
    "小区", "社区", "园区", "城区", "市区", "景区", "新区", "片区", "校区", "厂区", "矿区",
    "辖区", "山区", "牧区", "郊区", "老区", "街区", "住宅区", "开发区", "超市", "夜市",
    "集市", "城市", "门市", "菜市", "县城",
)


def _build_aliases() -> dict[str, tuple[str, str]]:
    """Phrase → (label, canonical name); earlier (more canonical) entries win collisions."""
    aliases: dict[str, tuple[str, str]] = {}

    def put(phrase: str, label: str, canonical: str) -> None:
        if len(phrase) >= 2 and phrase not in aliases:
            aliases[phrase] = (label, canonical)

    for name in gazetteer.DISTRICTS:
        put(name, "DISTRICT", name)
    for t in gazetteer.TOWNS:
        put(t.name, "TOWN", t.name)
    for t in gazetteer.TOWNS:
        for road in t.roads:
            put(road, "ROAD", road)
        for village in t.villages:
            put(village, "VILLAGE", village)
    for phrase in _CITY_ALIASES:
        put(phrase, "CITY", gazetteer.CITY)
    for phrase, district in _DISTRICT_ALIASES.items():
        put(phrase, "DISTRICT", district)
    for name in gazetteer.DISTRICTS:
        put(name[:-1], "DISTRICT", name)  # 原州, 西吉, 隆德, 泾源, 彭阳
    for short, seat in _COUNTY_SEATS.items():
        for phrase in (f"{short}县城", f"{short}县城区", f"{short}城区", f"{short}县城关"):
            put(phrase, "TOWN", seat)
    put("隆德城关", "TOWN", "城关镇")
    for t in gazetteer.TOWNS:
        stem = t.name[: -len(t.kind)]
        if t.kind == "街道":
            put(stem + "街道办", "TOWN", t.name)
            put(stem + "街道办事处", "TOWN", t.name)
        else:  # people mix up 镇 and 乡, and towns are upgraded from 乡 to 镇
            put(stem + ("乡" if t.kind == "镇" else "镇"), "TOWN", t.name)
        if stem not in _GENERIC_TOWN_STEMS:
            put(stem, "TOWN", t.name)
    for t in gazetteer.TOWNS:
        for village in t.villages:
            if village.endswith("村") and len(village) >= 4:
                put(village[:-1], "VILLAGE", village)  # 龙王坝村 → 龙王坝
    return aliases


# ----------------------------------------------------------------------------- segmenter


class GazetteerSegmenter:
    """A jieba-compatible ``cut``: gazetteer phrases as whole tokens, jieba for the rest.

    Phrases are chosen to cover as many characters as possible (dynamic programming, ties
    broken by fewer pieces), so 隆德县城关镇 is 隆德县 + 城关镇, not 隆德县城 + 关镇.
    """

    def __init__(self, phrases: set[str], jieba_module) -> None:
        self._phrases = frozenset(phrases)
        self._lengths = sorted({len(p) for p in phrases}, reverse=True)
        self._jieba = jieba_module

    def find(self, text: str) -> list[tuple[int, int]]:
        """Non-overlapping (start, end) spans of gazetteer phrases with maximal coverage."""
        n = len(text)
        best: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (covered, -pieces) from i to end
        choice: list[int] = [0] * (n + 1)  # phrase length chosen at i (0 = skip a char)
        for i in range(n - 1, -1, -1):
            best[i], choice[i] = best[i + 1], 0
            for length in self._lengths:
                if i + length <= n and text[i:i + length] in self._phrases:
                    covered, pieces = best[i + length]
                    candidate = (covered + length, pieces - 1)
                    if candidate > best[i]:
                        best[i], choice[i] = candidate, length
        spans, i = [], 0
        while i < n:
            if choice[i]:
                spans.append((i, i + choice[i]))
                i += choice[i]
            else:
                i += 1
        return spans

    def cut(self, text: str, cut_all: bool = False, HMM: bool = True) -> Iterator[str]:  # noqa: N803
        """Yield tokens like ``jieba.cut``."""
        position = 0
        for start, end in self.find(text):
            if start > position:
                yield from self._jieba.cut(text[position:start], cut_all=cut_all, HMM=HMM)
            yield text[start:end]
            position = end
        if position < len(text):
            yield from self._jieba.cut(text[position:], cut_all=cut_all, HMM=HMM)


# ----------------------------------------------------------------------------- number parts

_BUILDING = re.compile(r"(\d+)(?:号楼|号栋|栋|幢|座)")
_UNIT = re.compile(r"(\d+)单元")
_ROOM = re.compile(r"(\d+)(?:室|号房)")
_GROUP = re.compile(r"(\d+)(?:村民小组|小组|组|队|社(?!区))")
_TRIPLE = re.compile(r"(?<![\d-])(\d+)-(\d+)-(\d+)(?![\d-])")
_NUMBER = re.compile(r"(\d+(?:-\d+)?)号(?:院)?")
_FLOOR = re.compile(r"\d+(?:楼|层)")
_BARE_NUMBER = re.compile(r"(\d+(?:-\d+)?)(?![\d号楼栋幢单元室组队层-])")
_ROOM_AFTER = re.compile(r"(?:单元|号楼|栋|幢)(\d{2,4})(?![\d号组队单元楼栋幢室层])")


def _house_parts(text: str) -> dict[str, str]:
    """number / building / unit / room / group from normalized text (ASCII digits)."""
    parts: dict[str, str] = {}
    masked = text

    def take(pattern: re.Pattern[str], key: str | None) -> re.Match[str] | None:
        nonlocal masked
        m = pattern.search(masked)
        if m:
            if key:
                parts[key] = m.group(1)
            masked = masked[:m.start()] + "\0" * (m.end() - m.start()) + masked[m.end():]
        return m

    take(_BUILDING, "building")
    take(_UNIT, "unit")
    take(_ROOM, "room")
    take(_GROUP, "group")
    m = take(_TRIPLE, None)
    if m:
        for key, value in zip(("building", "unit", "room"), m.groups()):
            parts.setdefault(key, value)
    take(_NUMBER, "number")
    take(_FLOOR, None)
    if "room" not in parts:
        m = _ROOM_AFTER.search(text)
        if m:
            parts["room"] = m.group(1)
    return parts


# ----------------------------------------------------------------------------- matching

_LEVEL_CONFIDENCE: dict[str, float] = {"road": 0.9, "village": 0.88, "town": 0.8, "district": 0.45}
_REVIEW_BELOW = 0.6
_CONFLICT_FACTOR = 0.6


@dataclass
class _Facts:
    """What the entity ruler recognised, as canonical names (first mention of each)."""

    city: bool = False
    districts: list[str] = field(default_factory=list)
    towns: list[str] = field(default_factory=list)
    roads: list[str] = field(default_factory=list)
    villages: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def add(self, label: str, name: str) -> None:
        if label == "CITY":
            self.city = True
            return
        bucket = {"DISTRICT": self.districts, "TOWN": self.towns,
                  "ROAD": self.roads, "VILLAGE": self.villages}[label]
        if name not in bucket:
            bucket.append(name)


class AddressParser:
    """Parses and matches addresses; build once (it builds a spaCy pipeline) and reuse."""

    def __init__(self) -> None:
        import jieba
        import spacy

        self._aliases = _build_aliases()
        self.nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
        # spaCy's ChineseTokenizer calls self.jieba_seg.cut(text, cut_all=False), where
        # jieba_seg is the global jieba module: wrap it instead of adding words to it.
        self.nlp.tokenizer.jieba_seg = GazetteerSegmenter(set(self._aliases), jieba)
        ruler = self.nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
        ruler.add_patterns([
            {"label": label, "pattern": phrase, "id": canonical}
            for phrase, (label, canonical) in self._aliases.items()
        ])
        self._road_towns: dict[str, list[gazetteer.Town]] = {}
        self._village_towns: dict[str, list[gazetteer.Town]] = {}
        for t in gazetteer.TOWNS:
            for road in t.roads:
                self._road_towns.setdefault(road, []).append(t)
            for village in t.villages:
                self._village_towns.setdefault(village, []).append(t)

    # -- parsing -------------------------------------------------------------------------

    def parse(self, text: str) -> ParsedAddress:
        """Parse one free-text address and match it to the gazetteer."""
        normalized = normalize(text)
        doc = self.nlp(normalized)
        facts = _Facts()
        for ent in doc.ents:
            facts.add(ent.label_, ent.ent_id_ or ent.text)
        in_ents = {token.i for ent in doc.ents for token in ent}
        for token in doc:
            word = token.text
            if (token.i not in in_ents and word not in _HOME_ADMIN
                    and _FOREIGN_ADMIN.match(word) and not word.endswith(_NOT_ADMIN_SUFFIX)):
                facts.foreign.append(word)
        fields = _house_parts(normalized)
        if "number" not in fields:  # 文化街28 (said without 号)
            for ent in doc.ents:
                if ent.label_ == "ROAD":
                    m = _BARE_NUMBER.match(normalized, ent.end_char)
                    if m:
                        fields["number"] = m.group(1)
                        break
        return self._match(text, normalized, facts, fields)

    def _match(self, raw: str, normalized: str, facts: _Facts,
               fields: dict[str, str]) -> ParsedAddress:
        base = {"raw": raw, "normalized": normalized, **fields}
        if facts.foreign:
            return ParsedAddress(**base, issues=("outside_guyuan",))
        road = facts.roads[0] if facts.roads else None
        village = facts.villages[0] if facts.villages else None
        stated_town = facts.towns[0] if facts.towns else None
        district = facts.districts[0] if facts.districts else None
        issues: list[str] = []
        if len(facts.districts) > 1:
            issues.append("several_districts")
        if len(facts.towns) > 1:
            issues.append("several_towns")

        candidates: dict[str, gazetteer.Town] = {}
        for t in self._road_towns.get(road, []) + self._village_towns.get(village, []):
            candidates[t.name] = t
        if stated_town:
            candidates[stated_town] = gazetteer.town(stated_town)

        if not candidates:
            if district is None:
                return ParsedAddress(**base, issues=("nothing_recognised",))
            lat, lon = gazetteer.DISTRICTS[district]
            return ParsedAddress(
                **base, district=district, lat=lat, lon=lon, level="district", matched=True,
                needs_review=True, confidence=_LEVEL_CONFIDENCE["district"],
                issues=tuple(issues),
            )

        def score(t: gazetteer.Town) -> int:
            return (4 * (road is not None and t in self._road_towns.get(road, []))
                    + 4 * (village is not None and t in self._village_towns.get(village, []))
                    + 2 * (stated_town == t.name)
                    + 1 * (district == t.district))

        top = max(score(t) for t in candidates.values())
        best = [t for t in candidates.values() if score(t) == top]
        if len(best) > 1:
            return self._ambiguous(base, best, road, village, issues)
        chosen = best[0]

        road_ok = road is not None and chosen in self._road_towns.get(road, [])
        village_ok = village is not None and chosen in self._village_towns.get(village, [])
        level: MatchLevel = "road" if road_ok else "village" if village_ok else "town"
        confidence = _LEVEL_CONFIDENCE[level]
        if level == "road" and "number" in fields:
            confidence += 0.05
        if level == "village" and "group" in fields:
            confidence += 0.04
        if district is None and stated_town is None and level in ("road", "village"):
            confidence -= 0.1  # district and town inferred from a unique road or village
            issues.append("district_inferred")
        if road is not None and not road_ok:
            issues.append("road_not_in_town")
        if village is not None and not village_ok:
            issues.append("village_not_in_town")
        if stated_town is not None and stated_town != chosen.name:
            issues.append("town_mismatch")
        if district is not None and district != chosen.district:
            issues.append("town_not_in_district")
        conflicts = [i for i in issues if i != "district_inferred"]
        confidence *= _CONFLICT_FACTOR ** len(conflicts)
        confidence = round(min(confidence, 0.99), 2)
        area_class = chosen.area_class
        if level == "village" and area_class == "城区" and village.endswith("村"):
            area_class = "农村"  # a 村 of a county-seat town is served as rural
        return ParsedAddress(
            **base,
            district=chosen.district, town=chosen.name,
            road=road if road_ok else None, village=village if village_ok else None,
            lat=chosen.lat, lon=chosen.lon, area_class=area_class,
            level=level, matched=True,
            needs_review=confidence < _REVIEW_BELOW or bool(conflicts),
            confidence=confidence, issues=tuple(issues),
        )

    @staticmethod
    def _ambiguous(base: dict, best: list[gazetteer.Town], road: str | None,
                   village: str | None, issues: list[str]) -> ParsedAddress:
        """Several towns fit equally well: keep what they share, never pick one."""
        issues.append("ambiguous_road" if road else "ambiguous_village")
        districts = {t.district for t in best}
        common = {"road": road, "village": village}
        if len(districts) == 1:
            (only,) = districts
            lat, lon = gazetteer.DISTRICTS[only]
            return ParsedAddress(
                **base, **common, district=only, lat=lat, lon=lon, level="district",
                matched=True, needs_review=True, confidence=0.35, issues=tuple(issues),
            )
        return ParsedAddress(
            **base, **common, level="none", matched=False,
            needs_review=True, confidence=0.2, issues=tuple(issues),
        )


@lru_cache(maxsize=1)
def get_parser() -> AddressParser:
    """The shared parser, built on first use."""
    return AddressParser()
