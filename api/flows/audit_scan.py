"""The stored metering, customer and billing data as the audit engine's frames, and line loss per area
and feeder. Read-only and bulk: one query per table over the period, so the nightly scan of every
customer stays one pass (the rules themselves are pure: api.audit.rules, api.audit.lineloss).

Frames (customer_id is the 户号; timestamps tz-aware UTC):
  customers  customer_id, contract_kva, class, ct_ratio, ct_rated_a, power_factor (the contract's
             力率 standard; NaN for households and for direct metering's CT columns)
  readings   customer_id, ts, kw, kwh, ia, ib, ic (on the CT secondary for CT-metered meters, as the
             meter reads them), ua, ub, uc, reverse_kwh (the meter's daily 反向电量 freeze, placed in
             the hour it was recorded; 0 elsewhere)
  events     customer_id, ts, event (the Chinese kind), phase, detail
  bills      customer_id, period_start, period_end (local days, both included), billed_kwh; only the
             bills whose whole month lies in the period
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Float, String, case, cast, func, select
from sqlalchemy.orm import Session

from api.audit import lineloss
from api.audit.lineloss import Limits, LossRow, Sold, Supplied
from api.billing.models import Bill
from api.core.time import local_day, local_day_sql, local_midnight
from api.customers.models import Customer
from api.metering.models import AreaSupply, Feeder, FeederSupply, Meter, MeterEvent, Reading, TransformerArea

READING_COLUMNS = {"kw": Reading.kw, "kwh": Reading.kwh, "ia": Reading.current_a, "ib": Reading.current_b,
                   "ic": Reading.current_c, "ua": Reading.voltage_a, "ub": Reading.voltage_b, "uc": Reading.voltage_c}
REVERSE_KWH = re.compile(r"(\d+(?:\.\d+)?)\s*kWh", re.IGNORECASE)
FULL_DAY_HOURS = 20  # a meter with this many hourly readings in a local day reported that day


@dataclass
class Frames:
    """The four input frames of api.audit.rules.scan."""

    customers: pd.DataFrame
    readings: pd.DataFrame
    events: pd.DataFrame
    bills: pd.DataFrame


@dataclass
class LineLoss:
    """Line loss rows of a period: per area and per feeder, daily and per complete local month."""

    days: list[date]
    months: list[str]
    areas_daily: list[LossRow]
    feeders_daily: list[LossRow]
    areas_monthly: list[LossRow]
    feeders_monthly: list[LossRow]
    feeder_of_area: dict[str, str]  # area code -> feeder code


def _utc(column: pd.Series) -> pd.Series:
    """Stored timestamps (SQLite text or naive UTC) as tz-aware UTC."""
    return pd.to_datetime(column.astype(str), utc=True, format="ISO8601")


def _customer_filter(query, customer_ids):
    return query if customer_ids is None else query.where(Customer.id.in_(list(customer_ids)))


def load_frames(session: Session, *, start: datetime, end: datetime, customer_ids=None) -> Frames:
    """The frames of [start, end) for every metered customer, or those with these ids (Customer.id)."""
    conn = session.connection()  # Core rows: the ORM's per-row work would double the time of a month of readings
    people = _customer_filter(
        select(Customer.account_no, cast(Customer.contract_capacity_kva, Float), Customer.customer_class,
               Meter.ct_ratio, cast(Meter.ct_rated_a, Float), cast(Customer.power_factor_standard, Float))
        .join(Meter, Meter.customer_id == Customer.id).order_by(Customer.account_no), customer_ids)
    customers = pd.DataFrame(conn.execute(people).all(), columns=[
        "customer_id", "contract_kva", "class", "ct_ratio", "ct_rated_a", "power_factor"])
    for name in ("contract_kva", "ct_ratio", "ct_rated_a", "power_factor"):
        customers[name] = pd.to_numeric(customers[name], errors="coerce").astype("float64")

    account_of_meter = dict(conn.execute(_customer_filter(
        select(Meter.id, Customer.account_no).join(Customer, Customer.id == Meter.customer_id), customer_ids)).all())
    hourly = select(Reading.meter_id, cast(Reading.ts, String), *[cast(c, Float) for c in READING_COLUMNS.values()]) \
        .where(Reading.ts >= start, Reading.ts < end)
    if customer_ids is not None:
        hourly = hourly.where(Reading.meter_id.in_(list(account_of_meter)))
    readings = pd.DataFrame.from_records(conn.execute(hourly).all(), columns=["meter_id", "ts", *READING_COLUMNS])
    accounts = pd.Categorical(readings["meter_id"].map(account_of_meter), categories=sorted(account_of_meter.values()))
    readings.insert(0, "customer_id", accounts)
    readings = readings.drop(columns="meter_id")
    readings["ts"] = _utc(readings["ts"]) if len(readings) else pd.Series([], dtype="datetime64[ns, UTC]")
    for name in READING_COLUMNS:
        readings[name] = pd.to_numeric(readings[name], errors="coerce").astype("float32")

    logged = _customer_filter(
        select(Customer.account_no, cast(MeterEvent.ts, String), MeterEvent.kind, MeterEvent.phase, MeterEvent.detail)
        .join(Meter, Meter.id == MeterEvent.meter_id).join(Customer, Customer.id == Meter.customer_id)
        .where(MeterEvent.ts >= start, MeterEvent.ts < end).order_by(MeterEvent.ts, MeterEvent.id), customer_ids)
    events = pd.DataFrame(conn.execute(logged).all(), columns=["customer_id", "ts", "event", "phase", "detail"])
    events["ts"] = _utc(events["ts"]) if len(events) else pd.Series([], dtype="datetime64[ns, UTC]")
    readings["reverse_kwh"] = _reverse_kwh(readings, events)

    billed = _customer_filter(
        select(Customer.account_no, Bill.period, cast(Bill.kwh, Float)).join(Customer, Customer.id == Bill.customer_id)
        .order_by(Customer.account_no, Bill.period), customer_ids)
    rows = []
    for account_no, period, kwh in conn.execute(billed):
        first = date(int(period[:4]), int(period[5:7]), 1)
        last = lineloss.month_days(period)[-1]
        if local_midnight(first) >= start and local_midnight(last + timedelta(days=1)) <= end:
            rows.append((account_no, first, last, kwh))
    bills = pd.DataFrame(rows, columns=["customer_id", "period_start", "period_end", "billed_kwh"])
    return Frames(customers, readings, events, bills)


def _reverse_kwh(readings: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """Reverse energy per reading row: the kWh of each 反向电量 event, in the reading hour it fell in."""
    out = np.zeros(len(readings), dtype=np.float32)
    reverse = events[events["event"] == "反向电量"] if len(events) else events
    if not len(reverse) or not len(readings):
        return out
    kwh = reverse["detail"].fillna("").str.extract(REVERSE_KWH, expand=False).astype(float)
    hours = reverse["ts"].dt.floor("h")
    where = pd.MultiIndex.from_arrays([readings["customer_id"].astype(str), readings["ts"]])
    sums = pd.Series(kwh.to_numpy(), index=pd.MultiIndex.from_arrays(
        [reverse["customer_id"].astype(str), hours])).dropna().groupby(level=[0, 1]).sum()
    position = where.get_indexer(sums.index)
    found = position >= 0
    np.add.at(out, position[found], sums.to_numpy(dtype=np.float32)[found])
    return out


# ------------------------------------------------------------------------------ line loss

def full_days(start: datetime, end: datetime) -> list[date]:
    """The local days wholly inside [start, end)."""
    day = local_day(start)
    if local_midnight(day) < start:
        day += timedelta(days=1)
    days = []
    while local_midnight(day + timedelta(days=1)) <= end:
        days.append(day)
        day += timedelta(days=1)
    return days


def line_loss(session: Session, *, start: datetime, end: datetime, limits: Limits = Limits()) -> LineLoss:
    """Daily and monthly line loss of every area and feeder over the local days wholly inside [start, end).

    Daily sold energy is the metered sum of the customers (a meter counts as reporting with at least
    FULL_DAY_HOURS readings that day); monthly sold energy is the billed sum of the complete months.
    """
    days = full_days(start, end)
    months = sorted({d.strftime("%Y-%m") for d in days if set(lineloss.month_days(d.strftime("%Y-%m"))) <= set(days)})
    areas = {a.id: (a.code, feeder) for a, feeder in session.execute(
        select(TransformerArea, Feeder.code).join(Feeder, Feeder.id == TransformerArea.feeder_id)).all()}
    feeder_codes = dict(session.execute(select(Feeder.id, Feeder.code)).all())
    feeder_of_area = {code: feeder for code, feeder in areas.values()}
    if not days:
        return LineLoss([], [], [], [], [], [], feeder_of_area)
    lo, hi = local_midnight(days[0]), local_midnight(days[-1] + timedelta(days=1))

    meters = dict(session.execute(select(Meter.transformer_area_id, func.count()).group_by(Meter.transformer_area_id)).all())
    day = local_day_sql(Reading.ts)
    per_meter = (select(Reading.meter_id.label("meter_id"), day.label("day"), func.sum(Reading.kwh).label("kwh"),
                        func.count().label("hours"))
                 .where(Reading.ts >= lo, Reading.ts < hi).group_by(Reading.meter_id, day).subquery())
    per_area = (select(Meter.transformer_area_id, per_meter.c.day, func.sum(per_meter.c.kwh),
                       func.sum(case((per_meter.c.hours >= FULL_DAY_HOURS, 1), else_=0)))
                .join(Meter, Meter.id == per_meter.c.meter_id)
                .group_by(Meter.transformer_area_id, per_meter.c.day))
    area_sales = [Sold(areas[area_id][0], _as_date(d), Decimal(str(kwh or 0)), meters.get(area_id, 0), int(reporting or 0))
                  for area_id, d, kwh, reporting in session.execute(per_area)]

    area_supply = [Supplied(areas[a][0], d, kwh, kvarh) for a, d, kwh, kvarh in session.execute(
        select(AreaSupply.transformer_area_id, AreaSupply.day, AreaSupply.kwh, AreaSupply.kvarh)
        .where(AreaSupply.day >= days[0], AreaSupply.day <= days[-1]))]
    feeder_supply = [Supplied(feeder_codes[f], d, kwh, kvarh) for f, d, kwh, kvarh in session.execute(
        select(FeederSupply.feeder_id, FeederSupply.day, FeederSupply.kwh, FeederSupply.kvarh)
        .where(FeederSupply.day >= days[0], FeederSupply.day <= days[-1]))]
    area_codes = sorted(code for code, _ in areas.values())
    feeder_list = sorted(set(feeder_of_area.values()))
    areas_daily = lineloss.daily_loss(area_supply, area_sales, units=area_codes, days=days,
                                      limit=limits.area_high, limits=limits)
    feeders_daily = lineloss.daily_loss(feeder_supply, lineloss.feeder_sales(area_sales, feeder_of_area),
                                        units=feeder_list, days=days, limit=limits.feeder_high, limits=limits)

    billed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    if months:
        for area_id, period, kwh in session.execute(
                select(Customer.transformer_area_id, Bill.period, Bill.kwh).join(Customer, Customer.id == Bill.customer_id)
                .where(Bill.period.in_(months))):
            code = areas[area_id][0]
            billed[(code, period)] += Decimal(kwh)
            billed[(feeder_of_area[code], period)] += Decimal(kwh)
    areas_monthly = lineloss.monthly_loss(areas_daily, months=months, limit=limits.area_high, billed=billed,
                                          limits=limits)
    feeders_monthly = lineloss.monthly_loss(feeders_daily, months=months, limit=limits.feeder_high, billed=billed,
                                            limits=limits)
    return LineLoss(days, months, areas_daily, feeders_daily, areas_monthly, feeders_monthly, feeder_of_area)


def area_members(session: Session, *, area_codes: list[str]) -> dict[str, list[str]]:
    """area code -> the 户号 of its customers (to rank them by evidence in a high-loss area)."""
    members: dict[str, list[str]] = defaultdict(list)
    for code, account_no in session.execute(
            select(TransformerArea.code, Customer.account_no).join(Customer, Customer.transformer_area_id == TransformerArea.id)
            .where(TransformerArea.code.in_(area_codes)).order_by(Customer.account_no)):
        members[code].append(account_no)
    return dict(members)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
