"""Electricity tariffs: the validated tariffs.yml and the arithmetic of 阶梯 and 峰谷 bills.

Money is exact: kWh and prices are Decimal, an amount is summed in 元 and rounded half-up to
the fen once, at the end (as a bill is). Tier thresholds apply per month or per calendar year
(`tier_period`); for a yearly region pass the kWh already used this year as `used_before`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from api.core.time import LOCAL_TZ, local_hour

TARIFFS_PATH = Path(__file__).with_name("tariffs.yml")
DEFAULT_REGION = "nx-guyuan-demo"  # the KB_REGION default (api.settings)
ZERO = Decimal(0)
FEN = Decimal(1)

Band = Literal["sharp", "peak", "flat", "valley"]
BANDS: tuple[str, ...] = ("sharp", "peak", "flat", "valley")
BAND_NAMES = {"sharp": "尖峰", "peak": "峰", "flat": "平", "valley": "谷"}
TIER_NAMES = ("第一档", "第二档", "第三档", "第四档", "第五档")
RESIDENTIAL_KINDS = ("residential_tiered", "residential_tou")


class TariffError(LookupError):
    """No tariff is known for this region, year or tariff code."""


# ------------------------------------------------------------------------------ the schema

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Model):
    """One tier: its upper bound in kWh per tier period (None: unbounded) and its price 元/kWh."""

    up_to_kwh: Decimal | None
    price: Decimal

    @field_validator("price")
    @classmethod
    def _price(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("a price cannot be negative")
        return value

    @field_validator("up_to_kwh")
    @classmethod
    def _bound(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError("a tier bound must be positive")
        return value


class TouPeriod(_Model):
    """Local hours [start, end) of one band; end < start crosses midnight (22 → 8)."""

    band: Band
    start: int = Field(ge=0, le=23)
    end: int = Field(ge=0, le=24)

    def hours(self) -> list[int]:
        """The local hours of day (0–23) the period covers."""
        end = self.end if self.end > self.start else self.end + 24
        return [h % 24 for h in range(self.start, end)]


class TouPlan(_Model):
    """峰谷 (time-of-use) periods and band prices; whether 阶梯加价 is added on top."""

    periods: list[TouPeriod]
    prices: dict[Band, Decimal]
    tier_markup: bool = False
    _by_hour: tuple[str, ...] = PrivateAttr()

    @model_validator(mode="after")
    def _cover_the_day(self) -> TouPlan:
        by_hour: list[str | None] = [None] * 24
        for period in self.periods:
            for hour in period.hours():
                if by_hour[hour] is not None:
                    raise ValueError(f"hour {hour} is in two 峰谷 periods")
                by_hour[hour] = period.band
        missing = [h for h, band in enumerate(by_hour) if band is None]
        if missing:
            raise ValueError(f"hours {missing} are in no 峰谷 period")
        unpriced = sorted({b for b in by_hour if b not in self.prices})
        if unpriced:
            raise ValueError(f"bands without a price: {unpriced}")
        if any(p < 0 for p in self.prices.values()):
            raise ValueError("a price cannot be negative")
        self._by_hour = tuple(by_hour)  # type: ignore[arg-type]
        return self

    def band_of_hour(self, hour: int) -> str:
        """The band of a local hour of day (0–23)."""
        return self._by_hour[hour]

    def hours_of(self, band: str) -> tuple[int, ...]:
        """The local hours of day in a band."""
        return tuple(h for h in range(24) if self._by_hour[h] == band)

    def bands(self) -> tuple[str, ...]:
        """The bands this plan uses, in BANDS order."""
        return tuple(b for b in BANDS if b in self._by_hour)

    def span(self, band: str) -> str:
        """A band's hours as Chinese text, e.g. "22:00—次日8:00"."""
        parts = []
        for p in self.periods:
            if p.band == band:
                end = p.end % 24
                nxt = "次日" if p.end <= p.start or p.end == 24 else ""
                parts.append(f"{p.start}:00—{nxt}{end}:00")
        return "、".join(parts)


class Residential(_Model):
    """Residential 阶梯 tiers (per month or per year) and the 峰谷 plan residents may choose."""

    tier_period: Literal["month", "year"]
    tiers: list[Tier]
    tou: TouPlan | None = None

    @field_validator("tiers")
    @classmethod
    def _ascending(cls, tiers: list[Tier]) -> list[Tier]:
        if not tiers or tiers[-1].up_to_kwh is not None:
            raise ValueError("the last tier must have no upper bound (up_to_kwh: null)")
        bounds = [t.up_to_kwh for t in tiers[:-1]]
        if any(b is None for b in bounds) or bounds != sorted(set(bounds)):  # type: ignore[type-var]
            raise ValueError("tier bounds must be set and strictly increasing")
        return tiers


class TariffProduct(_Model):
    """What a customer's tariff_code means."""

    kind: Literal["residential_tiered", "residential_tou", "flat", "tou", "two_part"]
    name: str
    price: Decimal | None = None
    capacity_yuan_per_kva_month: Decimal | None = None
    tou: TouPlan | None = None

    @model_validator(mode="after")
    def _complete(self) -> TariffProduct:
        if self.kind in ("flat", "two_part") and self.price is None:
            raise ValueError(f"a {self.kind} tariff needs a price")
        if self.kind == "two_part" and self.capacity_yuan_per_kva_month is None:
            raise ValueError("a two_part tariff needs capacity_yuan_per_kva_month")
        if self.kind == "tou" and self.tou is None:
            raise ValueError("a non-residential tou tariff needs its own tou plan")
        return self


class Schedule(_Model):
    """The tariffs of one region in force from one year on."""

    source: str
    residential: Residential
    tariffs: dict[str, TariffProduct]

    @model_validator(mode="after")
    def _tou_known(self) -> Schedule:
        if self.residential.tou is None and any(t.kind == "residential_tou" for t in self.tariffs.values()):
            raise ValueError("a residential_tou tariff needs residential.tou")
        return self

    def tariff(self, tariff_code: str) -> TariffProduct:
        """The tariff with this code (TariffError when the schedule has none)."""
        try:
            return self.tariffs[tariff_code]
        except KeyError:
            raise TariffError(f"tariff code {tariff_code!r} is not in the schedule "
                              f"(known: {', '.join(sorted(self.tariffs))})") from None


class Region(_Model):
    """A region's schedules by the year they take effect."""

    name: str
    timezone: str = LOCAL_TZ.key  # tariff periods are Beijing time, as every time in the system
    schedules: dict[int, Schedule]

    @field_validator("timezone")
    @classmethod
    def _beijing(cls, zone: str) -> str:
        if zone != LOCAL_TZ.key:
            raise ValueError(f"tariff periods are read in {LOCAL_TZ.key}, not {zone}")
        return zone

    @field_validator("schedules")
    @classmethod
    def _some(cls, schedules: dict[int, Schedule]) -> dict[int, Schedule]:
        if not schedules:
            raise ValueError("a region needs at least one schedule")
        return schedules


class TariffBook(_Model):
    """Every region's tariffs, as loaded from tariffs.yml."""

    regions: dict[str, Region]

    def schedule(self, region: str, year: int) -> Schedule:
        """The schedule in force in `year` (TariffError for an unknown region or an earlier year)."""
        found = self.regions.get(region)
        if found is None:
            raise TariffError(f"no tariffs for region {region!r} (known: {', '.join(sorted(self.regions))})")
        years = sorted(y for y in found.schedules if y <= year)
        if not years:
            raise TariffError(f"no tariff schedule for region {region!r} in {year} "
                              f"(schedules from {min(found.schedules)})")
        return found.schedules[years[-1]]

    def latest(self, region: str) -> Schedule:
        """The region's newest schedule (TariffError for an unknown region)."""
        found = self.regions.get(region)
        if found is None:
            raise TariffError(f"no tariffs for region {region!r} (known: {', '.join(sorted(self.regions))})")
        return found.schedules[max(found.schedules)]


# ------------------------------------------------------------------------------ loading

def load_tariffs(path: Path | str | None = None) -> TariffBook:
    """The validated tariff book (tariffs.yml unless `path`); read once per path."""
    return _load(str(Path(path or TARIFFS_PATH).resolve()))


@lru_cache(maxsize=8)
def _load(path: str) -> TariffBook:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return TariffBook.model_validate(_exact(raw))


def _exact(value):
    """YAML numbers as Decimal via their text, so a stray unquoted price is still exact."""
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def schedule_for(*, year: int, region: str = DEFAULT_REGION, book: TariffBook | None = None) -> Schedule:
    """The region's schedule in force in `year` (TariffError when none is known)."""
    return (book or load_tariffs()).schedule(region, year)


# ------------------------------------------------------------------------------ arithmetic

@dataclass(frozen=True)
class TierSlice:
    """The part of a period's energy that falls in one tier."""

    tier: int  # 1-based
    kwh: Decimal
    price: Decimal
    markup: Decimal  # this tier's price minus the first tier's


def to_fen(yuan: Decimal) -> int:
    """元 to fen, rounded half-up (0.005 元 → 1 fen)."""
    return int((Decimal(yuan) * 100).quantize(FEN, rounding=ROUND_HALF_UP))


def format_yuan(fen: int) -> str:
    """Fen as a 元 string with two decimals: 12345 → "123.45", -80 → "-0.80"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def tier_slices(kwh: Decimal, *, tiers: list[Tier], used_before: Decimal = ZERO) -> list[TierSlice]:
    """Split `kwh` into tiers, starting after `used_before` kWh already used in the tier period."""
    kwh, used_before = Decimal(kwh), Decimal(used_before)
    if kwh < 0 or used_before < 0:
        raise ValueError("energy cannot be negative")
    first_price = tiers[0].price
    start, stop = used_before, used_before + kwh
    out, lower = [], ZERO
    for number, tier in enumerate(tiers, start=1):
        upper = tier.up_to_kwh
        lo = max(start, lower)
        hi = stop if upper is None else min(stop, upper)
        if hi > lo:
            out.append(TierSlice(number, hi - lo, tier.price, tier.price - first_price))
        if upper is None or stop <= upper:
            break
        lower = upper
    return out


def tiered_yuan(kwh: Decimal, *, tiers: list[Tier], used_before: Decimal = ZERO) -> Decimal:
    """The exact 阶梯 amount in 元 (not rounded)."""
    return sum((s.kwh * s.price for s in tier_slices(kwh, tiers=tiers, used_before=used_before)), ZERO)


def tiered_amount_fen(kwh: Decimal, *, tiers: list[Tier], used_before: Decimal = ZERO) -> int:
    """The 阶梯 amount of `kwh` in fen, after `used_before` kWh of the tier period, half-up."""
    return to_fen(tiered_yuan(kwh, tiers=tiers, used_before=used_before))


def tier_markup_yuan(kwh: Decimal, *, tiers: list[Tier], used_before: Decimal = ZERO) -> Decimal:
    """The exact 阶梯加价 in 元: kWh above the first tier times the tier's markup."""
    return sum((s.kwh * s.markup for s in tier_slices(kwh, tiers=tiers, used_before=used_before)), ZERO)


def tou_yuan(band_kwh: Mapping[str, Decimal], *, tou: TouPlan) -> Decimal:
    """The exact 峰谷 energy amount in 元: each band's kWh times its price."""
    total = ZERO
    for band, kwh in band_kwh.items():
        if Decimal(kwh) < 0:
            raise ValueError("energy cannot be negative")
        if band not in tou.prices:
            raise ValueError(f"no price for band {band!r}")
        total += Decimal(kwh) * tou.prices[band]  # type: ignore[index]
    return total


def tou_amount_fen(
    band_kwh: Mapping[str, Decimal], *, tou: TouPlan, tiers: list[Tier] | None = None,
    used_before: Decimal = ZERO, tier_markup: bool | None = None,
) -> int:
    """The 峰谷 amount in fen; with `tiers`, plus the 阶梯加价 on the total when the plan adds it.

    `tier_markup` overrides the plan's rule (None: as the region applies it).
    """
    yuan = tou_yuan(band_kwh, tou=tou)
    markup = tou.tier_markup if tier_markup is None else tier_markup
    if tiers is not None and markup:
        total = sum((Decimal(v) for v in band_kwh.values()), ZERO)
        yuan += tier_markup_yuan(total, tiers=tiers, used_before=used_before)
    return to_fen(yuan)


def split_by_band(hourly: Iterable[tuple[datetime, Decimal]], *, tou: TouPlan) -> dict[str, Decimal]:
    """Hourly kWh (UTC start of hour, kWh) summed per 峰谷 band by the local hour."""
    out = {band: ZERO for band in tou.bands()}
    for ts, kwh in hourly:
        out[tou.band_of_hour(local_hour(ts))] += Decimal(kwh)
    return out


def tier_of(total_kwh: Decimal, *, tiers: list[Tier]) -> int:
    """The tier (1-based) the last kWh of `total_kwh` fell in; 1 for nothing used yet."""
    total = Decimal(total_kwh)
    for number, tier in enumerate(tiers, start=1):
        if tier.up_to_kwh is None or total <= tier.up_to_kwh:
            return number
    return len(tiers)


def tier_upper(tier: int, *, tiers: list[Tier]) -> Decimal | None:
    """The upper bound in kWh of a tier (1-based), None for the last."""
    return tiers[tier - 1].up_to_kwh


def kwh_left_in_tier(total_kwh: Decimal, *, tiers: list[Tier]) -> Decimal | None:
    """kWh left before the next tier starts (None in the last tier)."""
    upper = tier_upper(tier_of(total_kwh, tiers=tiers), tiers=tiers)
    return None if upper is None else upper - Decimal(total_kwh)


def tier_name(tier: int) -> str:
    """第一档, 第二档, …"""
    return TIER_NAMES[tier - 1] if 0 < tier <= len(TIER_NAMES) else f"第{tier}档"


def is_residential(product: TariffProduct) -> bool:
    """True for the residential tariffs (阶梯, and 峰谷 on top of 阶梯)."""
    return product.kind in RESIDENTIAL_KINDS


def amount_fen(
    *, schedule: Schedule, tariff_code: str, kwh: Decimal, band_kwh: Mapping[str, Decimal] | None = None,
    used_before: Decimal = ZERO, contract_kva: Decimal | None = None, tier_markup: bool | None = None,
) -> int:
    """One billing period's amount in fen under a customer's tariff code.

    `band_kwh` (kWh per 峰谷 band, summing to `kwh`) is needed by the 峰谷 tariffs; `used_before`
    is the kWh already used in the tier period (yearly tiers); `contract_kva` prices the 基本电费
    of a two-part tariff; `tier_markup` overrides the region's 峰谷+阶梯 rule.
    """
    product = schedule.tariff(tariff_code)
    kwh = Decimal(kwh)
    if product.kind == "residential_tiered":
        return tiered_amount_fen(kwh, tiers=schedule.residential.tiers, used_before=used_before)
    if product.kind in ("residential_tou", "tou"):
        if band_kwh is None:
            raise ValueError(f"{tariff_code} is a 峰谷 tariff: give the kWh per band")
        if sum((Decimal(v) for v in band_kwh.values()), ZERO) != kwh:
            raise ValueError("the kWh per band must add up to the period's kWh")
        if product.kind == "tou":
            return to_fen(tou_yuan(band_kwh, tou=product.tou))  # type: ignore[arg-type]
        return tou_amount_fen(band_kwh, tou=schedule.residential.tou, tiers=schedule.residential.tiers,  # type: ignore[arg-type]
                              used_before=used_before, tier_markup=tier_markup)
    if product.kind == "flat":
        return to_fen(kwh * product.price)  # type: ignore[operator]
    capacity = Decimal(contract_kva or 0) * product.capacity_yuan_per_kva_month  # type: ignore[operator]
    return to_fen(kwh * product.price + capacity)  # type: ignore[operator]


def tou_plan_of(*, schedule: Schedule, tariff_code: str | None = None) -> TouPlan | None:
    """The 峰谷 plan that applies to a tariff code (its own, else the residential one)."""
    if tariff_code is not None:
        product = schedule.tariffs.get(tariff_code)
        if product is not None and product.tou is not None:
            return product.tou
    return schedule.residential.tou
