"""Charging analytics over the stored sessions, and customers' charging habits as segments for offers.

Pure rules over the charging tables (no HTTP). The staff page (/charging) and the CSV use the figures as they are.

The range is local (Beijing) days `start` … `end`, both included: from 00:00 of `start` to 00:00 of the day after
`end`. Per station, per transformer area (the stations it feeds) and in total:

- sessions, energy, revenue: the transactions that *started* in the range. A session still running counts its
  energy and cost so far (its latest energy register, priced as the station prices it).
- utilisation by hour of day h: the connector-hours occupied by transactions in the slots h:00–h+1:00 of every day
  of the range, divided by connectors × the hours of those slots. A transaction occupies its connector from its
  start to its stop (to now while it runs), clipped to the range, whatever day it started. Slots after `now` do
  not count (the current one counts up to now). Connectors are the station's connectors today.
- waits: the queue entries that joined in the range and were called to a connector: called_at − joined_at (for a
  booking, − the booked time) in minutes; the mean, and the 90th percentile by the nearest-rank method (the ⌈0.9·n⌉-th smallest wait).
- faults: connectors whose last reported status is Faulted (now), and transactions started in the range that
  stopped for a fault (`FAULT_STOP_REASONS`).

Habits (`customer_habits`): see its docstring for the segment rules.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.charging.models import ChargePoint, Connector, IdTag, QueueEntry, Station, Transaction
from api.charging.scheduler import DEFAULT_TARIFF, TouTariff
from api.charging.service import cost_fen, energy_so_far
from api.core.errors import Invalid
from api.core.exports import csv_document
from api.core.time import UTC, local_midnight, to_local

MAX_DAYS = 366
# OCPP 1.6 StopTransaction reasons that mean the session ended because something failed, not because the
# driver or the operator ended it (the simulator stops a faulted session with "Other").
FAULT_STOP_REASONS = ("EmergencyStop", "PowerLoss", "HardReset", "Reboot", "Other")
HOURS = 24
KWH = Decimal("0.001")

# ---------------------------------------------------------------- habits: bands and segments

NIGHT, DAY, EVENING = "夜间谷段", "白天", "晚高峰"
BAND_HOURS = {NIGHT: "22:00–08:00", DAY: "08:00–17:00", EVENING: "17:00–22:00"}
OCCASIONAL, NIGHT_VALLEY, EVENING_PEAK, DAY_FAST, DAY_SLOW = (
    "偶尔充电", "夜间谷段常充", "晚高峰充电", "白天快充", "白天慢充")
# each segment, what it means and what to offer it (the order is the order of the rules)
SEGMENTS = {
    OCCASIONAL: ("平均每周充电不到1次", "首单/回流优惠券，唤醒充电"),
    NIGHT_VALLEY: ("六成以上电量在夜间谷段（22:00–08:00）充入", "谷段充电套餐续订、夜间停车充电优惠"),
    EVENING_PEAK: ("多在晚高峰（17:00–22:00）开始充电", "错峰引导：改到22点后充电享谷段电价与服务费折扣"),
    DAY_FAST: ("白天充电，一半以上用直流快充", "快充会员、服务费折扣包"),
    DAY_SLOW: ("白天充电，多用交流慢充", "目的地充电与停车费优惠"),
}
MIN_SESSIONS_PER_WEEK = 1.0
VALLEY_SHARE = 0.6
DC_SHARE = 0.5


def band_of(at: datetime) -> str:
    """The hour band a session starting at this instant falls in (local time)."""
    hour = to_local(at).hour
    if hour >= 22 or hour < 8:
        return NIGHT
    return DAY if hour < 17 else EVENING


# ---------------------------------------------------------------- output

class Figures(BaseModel):
    """What happened at a station, an area or all of them over the range (see the module's definitions)."""

    connectors: int
    sessions: int
    energy_kwh: Decimal
    revenue_fen: int
    utilisation: float  # share of connector-hours occupied over the whole range, 0–1
    utilisation_by_hour: list[float]  # 24 shares, hour 0 = 00:00–01:00 local
    queued: int  # queue entries that joined in the range
    waits: int  # of them, called to a connector
    wait_avg_minutes: float | None
    wait_p90_minutes: float | None
    faulted_now: int  # connectors Faulted now
    fault_stops: int  # sessions started in the range that stopped for a fault


class StationFigures(Figures):
    code: str
    name: str
    district: str
    transformer_area_id: int | None


class AreaFigures(Figures):
    transformer_area_id: int
    stations: list[str]  # station codes


class SegmentCount(BaseModel):
    """How many customers a segment holds, what it means and what to offer them."""

    segment: str
    customers: int
    rule: str
    offer: str


class AnalyticsRead(BaseModel):
    """Charging analytics of a range of local days (both included)."""

    start: date
    end: date
    days: int
    district: str | None
    total: Figures
    stations: list[StationFigures]
    areas: list[AreaFigures]
    customers: int  # customers (户号) with a finished session in the range
    segments: list[SegmentCount]


class Habit(BaseModel):
    """One customer's charging habits over the range, and the segment they fall in."""

    account_no: str
    id_tags: list[str]
    segment: str
    main_station_code: str
    main_station_name: str
    usual_band: str
    sessions: int
    sessions_per_week: float
    avg_kwh: Decimal
    total_kwh: Decimal
    valley_share: float
    dc_share: float
    offer: str


# ---------------------------------------------------------------- the range

def check_range(start: date, end: date) -> int:
    """The number of days of a range, or Invalid when it is backwards or longer than MAX_DAYS."""
    if end < start:
        raise Invalid("bad_range", "结束日期不能早于开始日期")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise Invalid("range_too_long", f"统计区间最长{MAX_DAYS}天，请缩短日期范围")
    return days


def _window(start: date, end: date) -> tuple[datetime, datetime]:
    return local_midnight(start), local_midnight(end + timedelta(days=1))


def seconds_by_hour(start: datetime, stop: datetime, into: list[float] | None = None) -> list[float]:
    """Seconds of [start, stop) in each local hour of day (added to `into` when given)."""
    out = into if into is not None else [0.0] * HOURS
    t = start
    while t < stop:
        local = to_local(t)
        next_hour = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        upto = min(stop, next_hour.astimezone(UTC))
        out[local.hour] += (upto - t).total_seconds()
        t = upto
    return out


def valley_fraction(start: datetime, stop: datetime, tariff: TouTariff = DEFAULT_TARIFF) -> float:
    """The share of [start, stop) that lies in the tariff's valley (谷) band; an instant: 1 or 0."""
    if stop <= start:
        return 1.0 if tariff.band_at(start).name == "valley" else 0.0
    bounds = sorted({b.start_minute for b in tariff.bands} | {b.end_minute % 1440 for b in tariff.bands})
    valley = 0.0
    t = start
    while t < stop:
        local = to_local(t)
        minute = local.hour * 60 + local.minute
        upcoming = next((m for m in bounds if m > minute), bounds[0] + 1440)
        boundary = (local.replace(second=0, microsecond=0) + timedelta(minutes=upcoming - minute)).astimezone(UTC)
        upto = min(stop, boundary)
        if tariff.band_at(t).name == "valley":
            valley += (upto - t).total_seconds()
        t = upto
    return valley / (stop - start).total_seconds()


def p90(values: list[float]) -> float | None:
    """The 90th percentile by the nearest-rank method: the ⌈0.9·n⌉-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


# ---------------------------------------------------------------- per station, area, total

@dataclass
class _Tally:
    connectors: int = 0
    sessions: int = 0
    energy: Decimal = Decimal("0.000")
    revenue: int = 0
    occupied: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    waits: list[float] = field(default_factory=list)
    queued: int = 0
    faulted_now: int = 0
    fault_stops: int = 0

    def add(self, other: _Tally) -> None:
        self.connectors += other.connectors
        self.sessions += other.sessions
        self.energy += other.energy
        self.revenue += other.revenue
        self.occupied = [a + b for a, b in zip(self.occupied, other.occupied)]
        self.waits += other.waits
        self.queued += other.queued
        self.faulted_now += other.faulted_now
        self.fault_stops += other.fault_stops

    def figures(self, open_by_hour: list[float]) -> dict:
        available = [seconds * self.connectors for seconds in open_by_hour]
        total_available = sum(available)
        waits = self.waits
        return {
            "connectors": self.connectors, "sessions": self.sessions, "energy_kwh": self.energy.quantize(KWH),
            "revenue_fen": self.revenue,
            "utilisation": round(sum(self.occupied) / total_available, 4) if total_available else 0.0,
            "utilisation_by_hour": [round(o / a, 4) if a else 0.0 for o, a in zip(self.occupied, available)],
            "queued": self.queued, "waits": len(waits),
            "wait_avg_minutes": round(sum(waits) / len(waits), 1) if waits else None,
            "wait_p90_minutes": round(p90(waits), 1) if waits else None,
            "faulted_now": self.faulted_now, "fault_stops": self.fault_stops}


def _stations(session: Session, district: str | None) -> list[Station]:
    query = select(Station).order_by(Station.code)
    if district:
        query = query.where(Station.district == district)
    return list(session.scalars(query))


def _transactions(session: Session, station_ids: list[int], begin: datetime, finish: datetime) -> list[Transaction]:
    """Transactions at the stations overlapping [begin, finish)."""
    if not station_ids:
        return []
    return list(session.scalars(
        select(Transaction).join(Connector, Connector.id == Transaction.connector_id)
        .join(ChargePoint, ChargePoint.id == Connector.charger_id)
        .where(ChargePoint.station_id.in_(station_ids), Transaction.started_at < finish,
               (Transaction.stopped_at.is_(None)) | (Transaction.stopped_at > begin))
        .order_by(Transaction.id)))


def analytics(*, session: Session, start: date, end: date, now: datetime, district: str | None = None) -> AnalyticsRead:
    """Sessions, energy, revenue, utilisation by hour, waits and faults per station, area and in total."""
    days = check_range(start, end)
    begin, finish = _window(start, end)
    stations = _stations(session, district)
    tallies = {s.id: _Tally(connectors=sum(len(c.connectors) for c in s.chargers),
                            faulted_now=sum(c.status == "Faulted" for ch in s.chargers for c in ch.connectors))
               for s in stations}
    by_id = {s.id: s for s in stations}
    for tx in _transactions(session, list(by_id), begin, finish):
        station = tx.connector.charger.station
        tally = tallies[station.id]
        stop = tx.stopped_at if tx.stopped_at is not None else now
        seconds_by_hour(max(tx.started_at, begin), min(stop, finish, now), tally.occupied)
        if not begin <= tx.started_at < finish:
            continue
        tally.sessions += 1
        if tx.stopped_at is not None:
            tally.energy += tx.energy_kwh or Decimal(0)
            tally.revenue += tx.cost_fen or 0
            tally.fault_stops += tx.stop_reason in FAULT_STOP_REASONS
        else:
            so_far = energy_so_far(session, tx)
            tally.energy += so_far
            tally.revenue += cost_fen(so_far, station)
    if by_id:
        for station_id, joined, called in session.execute(
                select(QueueEntry.station_id, func.coalesce(QueueEntry.arrive_at, QueueEntry.joined_at),
                       QueueEntry.called_at)
                .where(QueueEntry.station_id.in_(list(by_id)), QueueEntry.joined_at >= begin,
                       QueueEntry.joined_at < finish)):
            tallies[station_id].queued += 1
            if called is not None:
                tallies[station_id].waits.append(max(0.0, (called - joined).total_seconds() / 60))
    open_by_hour = seconds_by_hour(begin, min(finish, max(now, begin)))
    station_rows = [StationFigures(code=s.code, name=s.name, district=s.district,
                                   transformer_area_id=s.transformer_area_id,
                                   **tallies[s.id].figures(open_by_hour)) for s in stations]
    area_tallies: dict[int, _Tally] = defaultdict(_Tally)
    area_codes: dict[int, list[str]] = defaultdict(list)
    total = _Tally()
    for s in stations:
        total.add(tallies[s.id])
        if s.transformer_area_id is not None:
            area_tallies[s.transformer_area_id].add(tallies[s.id])
            area_codes[s.transformer_area_id].append(s.code)
    area_rows = [AreaFigures(transformer_area_id=area_id, stations=area_codes[area_id],
                             **area_tallies[area_id].figures(open_by_hour)) for area_id in sorted(area_tallies)]
    habits = customer_habits(session=session, start=start, end=end, district=district)
    return AnalyticsRead(start=start, end=end, days=days, district=district or None,
                         total=Figures(**total.figures(open_by_hour)), stations=station_rows, areas=area_rows,
                         customers=len(habits), segments=segment_counts(habits))


# ---------------------------------------------------------------- habits

@dataclass
class _Customer:
    tags: set[str] = field(default_factory=set)
    sessions: int = 0
    energy: Decimal = Decimal("0.000")
    valley: float = 0.0  # kWh in the valley
    dc: int = 0
    bands: Counter = field(default_factory=Counter)
    at_station: Counter = field(default_factory=Counter)  # station code → sessions
    kwh_at_station: dict = field(default_factory=lambda: defaultdict(Decimal))


def customer_habits(*, session: Session, start: date, end: date, district: str | None = None) -> list[Habit]:
    """Each customer's charging habits over the range and their segment, most sessions first.

    A customer is a 户号: the finished sessions started in the range with any of the id tags that carry that
    account number (tags without one are nobody we can make an offer to, and are left out). For each:
    - main station: where they charged most often (then the most kWh, then the station code);
    - usual band: the band most of their sessions started in — 夜间谷段 22:00–08:00 (the valley of the charging
      tariff), 白天 08:00–17:00, 晚高峰 17:00–22:00 (a tie goes to the first in that order);
    - sessions per week: sessions ÷ (max(days, 7) ÷ 7), so a short range does not inflate it;
    - average kWh per session;
    - valley share: the share of their energy charged in the tariff's valley hours (each session's energy
      spread evenly over its duration); DC share: the share of their sessions on DC connectors.
    The segment is the first rule that holds:
    1. 偶尔充电 — fewer than 1 session a week;
    2. 夜间谷段常充 — at least 60 % of the energy in the valley;
    3. 晚高峰充电 — usual band 晚高峰;
    4. 白天快充 — at least half of the sessions on DC;
    5. 白天慢充 — the rest.
    """
    days = check_range(start, end)
    begin, finish = _window(start, end)
    accounts = dict(session.execute(select(IdTag.id_tag, IdTag.account_no).where(IdTag.account_no.is_not(None))).all())
    if not accounts:
        return []
    query = (select(Transaction, Connector.kind, Station.code, Station.name)
             .join(Connector, Connector.id == Transaction.connector_id)
             .join(ChargePoint, ChargePoint.id == Connector.charger_id)
             .join(Station, Station.id == ChargePoint.station_id)
             .where(Transaction.started_at >= begin, Transaction.started_at < finish,
                    Transaction.stopped_at.is_not(None), Transaction.id_tag.in_(list(accounts)))
             .order_by(Transaction.id))
    if district:
        query = query.where(Station.district == district)
    customers: dict[str, _Customer] = defaultdict(_Customer)
    names: dict[str, str] = {}
    for tx, kind, code, name in session.execute(query):
        who = customers[accounts[tx.id_tag]]
        energy = tx.energy_kwh or Decimal(0)
        who.tags.add(tx.id_tag)
        who.sessions += 1
        who.energy += energy
        who.valley += float(energy) * valley_fraction(tx.started_at, tx.stopped_at)
        who.dc += kind == "DC"
        who.bands[band_of(tx.started_at)] += 1
        who.at_station[code] += 1
        who.kwh_at_station[code] += energy
        names[code] = name
    weeks = max(days, 7) / 7
    habits = []
    for account_no, who in customers.items():
        main = min(who.at_station, key=lambda c: (-who.at_station[c], -who.kwh_at_station[c], c))
        band = max((NIGHT, DAY, EVENING), key=lambda b: (who.bands[b], -(NIGHT, DAY, EVENING).index(b)))
        per_week = who.sessions / weeks
        valley_share = who.valley / float(who.energy) if who.energy else 0.0
        dc_share = who.dc / who.sessions
        segment = _segment(per_week, valley_share, band, dc_share)
        habits.append(Habit(
            account_no=account_no, id_tags=sorted(who.tags), segment=segment, main_station_code=main,
            main_station_name=names[main], usual_band=band, sessions=who.sessions,
            sessions_per_week=round(per_week, 2), avg_kwh=(who.energy / who.sessions).quantize(Decimal("0.01")),
            total_kwh=who.energy.quantize(KWH), valley_share=round(valley_share, 4), dc_share=round(dc_share, 4),
            offer=SEGMENTS[segment][1]))
    return sorted(habits, key=lambda h: (-h.sessions, h.account_no))


def _segment(per_week: float, valley_share: float, band: str, dc_share: float) -> str:
    if per_week < MIN_SESSIONS_PER_WEEK:
        return OCCASIONAL
    if valley_share >= VALLEY_SHARE:
        return NIGHT_VALLEY
    if band == EVENING:
        return EVENING_PEAK
    return DAY_FAST if dc_share >= DC_SHARE else DAY_SLOW


def segment_counts(habits: list[Habit]) -> list[SegmentCount]:
    """Customers per segment, every segment listed (in the order of the rules)."""
    counts = Counter(h.segment for h in habits)
    return [SegmentCount(segment=name, customers=counts[name], rule=rule, offer=offer)
            for name, (rule, offer) in SEGMENTS.items()]


# ---------------------------------------------------------------- CSV

CSV_HEADERS = ("户号", "充电卡号", "客户分群", "常去充电站", "常充时段", "充电次数", "每周充电次数",
               "平均每次电量（千瓦时）", "总电量（千瓦时）", "谷段电量占比", "直流快充占比", "建议营销方向")


def segments_csv(habits: list[Habit], *, start: date, end: date, district: str | None = None) -> bytes:
    """The customers and their segments as CSV for Excel: UTF-8 with a BOM, Chinese headers, one row each.
    Agents and supervisors make offers by 户号 (kept, with the charging cards it is for); mobiles, ID and house
    numbers in any cell are masked (api.core.exports)."""
    rows = ([h.account_no, " ".join(h.id_tags), h.segment, f"{h.main_station_name}（{h.main_station_code}）",
             f"{h.usual_band}（{BAND_HOURS[h.usual_band]}）", h.sessions, f"{h.sessions_per_week:.2f}",
             f"{h.avg_kwh:.2f}", f"{h.total_kwh:.3f}", f"{h.valley_share * 100:.1f}%", f"{h.dc_share * 100:.1f}%",
             h.offer] for h in habits)
    return csv_document([[f"# 统计区间：{start.isoformat()} 至 {end.isoformat()}；区县：{district or '全部'}"],
                         CSV_HEADERS, *rows]).encode("utf-8")


def segments_file_name(*, start: date, end: date) -> str:
    """charging-segments_<start>_<end>.csv"""
    return f"charging-segments_{start.isoformat()}_{end.isoformat()}.csv"
