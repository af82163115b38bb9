"""The demo's monthly bills and balances, priced from the tariff book like real ones.

The demo customers' tariff codes are below; their prices and 峰谷 hours live in ONE place, the
tariff book (region "nx-guyuan-demo", the KB_REGION default), read when a bill is priced.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from api.billing import tariffs
from api.billing.models import Bill
from api.core.time import local_day, local_hour, local_midnight
from api.demo.hashing import fixed_uniform
from api.demo.showcase import fixed_accounts
from api.demo.simulation import HOUR, Axis, Profiles, months, next_month
from api.demo.storage import insert_rows
from api.metering.models import Reading

DEMO_REGION = "nx-guyuan-demo"
DEMO_TARIFFS: tuple[str, ...] = ("NX-RES-TIER", "NX-RES-TOU", "NX-GC", "NX-LI")

Monthly = dict[int, dict[str, tuple[int, int]]]  # meter -> period -> (Wh, peak-hour Wh)


def _schedule(period: str | None):
    if period is None:
        return tariffs.load_tariffs().latest(DEMO_REGION)
    return tariffs.schedule_for(region=DEMO_REGION, year=int(period[:4]))


def peak_hours(period: str | None = None) -> tuple[int, ...]:
    """Local hours that are not 谷 (valley) under the residential 峰谷 plan in force in `period`."""
    tou = _schedule(period).residential.tou
    return tuple(h for h in range(24) if tou.band_of_hour(h) != "valley")


def bill_amount_fen(
    tariff_code: str, *, kwh: Decimal, peak_kwh: Decimal | None = None,
    contract_kva: Decimal | None = None, period: str | None = None,
) -> int:
    """Price one month of energy with the tariff book; half-up to the fen once, at the end.

    The demo's 峰谷 bills charge the non-valley kWh at the 峰 price and the rest at the 谷 price,
    plus the 阶梯加价 on the month's total as the region applies it (knowledge base: 峰谷与阶梯).
    """
    schedule = _schedule(period)
    bands = None
    if schedule.tariff(tariff_code).kind == "residential_tou":
        peak = peak_kwh if peak_kwh is not None else Decimal(0)
        bands = {"peak": peak, "valley": kwh - peak}
    return tariffs.amount_fen(schedule=schedule, tariff_code=tariff_code, kwh=kwh, band_kwh=bands,
                              contract_kva=contract_kva)


class MonthlyEnergy:
    """Each meter's energy per complete local month of the axis, gathered chunk by chunk while the
    readings are simulated (so bills need no second pass over millions of rows)."""

    def __init__(self, axis: Axis):
        self.axis = axis
        self.months = months(axis)
        self.by_meter: Monthly = {}

    def add(self, meters: Profiles, sim: dict[str, np.ndarray]) -> None:
        """Add one chunk of simulated meters."""
        for period, a, b in self.months:
            peak = np.isin(self.axis.lh[a:b], peak_hours(period)).astype(np.int64)
            totals = sim["wh"][:, a:b].sum(axis=1).tolist()
            peaks = (sim["wh"][:, a:b] * peak).sum(axis=1).tolist()
            for i, meter_id in enumerate(meters.meter_id.tolist()):
                self.by_meter.setdefault(meter_id, {})[period] = (totals[i], peaks[i])

    @property
    def latest(self) -> str | None:
        """The last complete month (its bills are the ones still being paid)."""
        return self.months[-1][0] if self.months else None


def bill_rows(rows: list[dict], monthly: Monthly, *, end: datetime, arrears: set[int],
              latest: str | None) -> list[dict]:
    """A bill per meter row and month, paid or not as of `end`."""
    bills = []
    for r in rows:
        for period, (wh, peak_wh) in sorted(monthly.get(r["meter_id"], {}).items()):
            kwh = (Decimal(wh) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            amount = bill_amount_fen(
                r["tariff_code"], kwh=kwh if r["tariff_code"] != "NX-RES-TOU" else Decimal(wh) / 1000,
                peak_kwh=Decimal(peak_wh) / 1000, contract_kva=Decimal(r["contract_capacity_kva"]), period=period,
            )
            issued = _issue_day(period)
            paid_at = _paid_at(r, period, end=end, arrears=arrears, latest=latest)
            bills.append({"customer_id": r["customer_id"], "period": period, "kwh": kwh,
                          "amount_fen": amount, "due_date": issued.replace(day=25),
                          "paid": paid_at is not None, "paid_at": paid_at})
    return bills


def _issue_day(period: str) -> date:
    year, month = map(int, period.split("-"))
    return next_month(date(year, month, 1))


def _paid_at(r: dict, period: str, *, end: datetime, arrears: set[int], latest: str | None) -> datetime | None:
    """When the bill was paid, or None while it is unpaid at `end`."""
    if r["customer_id"] in arrears:
        return None
    u = fixed_uniform("paid", r["account_no"], period)
    unpaid_share = 0.2 if period == latest else 0.02
    if u < unpaid_share:
        return None
    issued = local_midnight(_issue_day(period))
    later = fixed_uniform("paid-day", r["account_no"], period)
    if u < 0.75:  # most accounts are settled by automatic deduction (费控) right after issue
        paid_at = issued + timedelta(hours=2 + 28 * later)
    else:
        paid_at = issued + timedelta(days=1 + 20 * later, hours=2)
    return None if paid_at > end else paid_at


def arrears_customers(rows: list[dict]) -> set[int]:
    """The arrears showcase customer and about 2 % of the generated households."""
    fixed = fixed_accounts()
    fixed_numbers = {account for account, _ in fixed.values()}
    return {r["customer_id"] for r in rows
            if r["account_no"] == fixed["arrears"][0] or
            (r["customer_class"] == "居民" and r["account_no"] not in fixed_numbers
             and fixed_uniform("arrears", r["account_no"]) < 0.02)}


def balance_rows(rows: list[dict], bills: list[dict], arrears: set[int], end: datetime) -> list[dict]:
    """Prepaid balances: customers in arrears owe their unpaid bills and a little more."""
    unpaid: dict[int, int] = defaultdict(int)
    for b in bills:
        if not b["paid"]:
            unpaid[b["customer_id"]] += b["amount_fen"]
    balances = []
    for r in rows:
        u = fixed_uniform("balance", r["account_no"])
        if r["customer_id"] in arrears:
            balance = -unpaid[r["customer_id"]] - int(2000 + 18000 * u)
        else:
            scale = {"居民": 30000, "一般工商业": 500000, "大工业": 20000000}[r["customer_class"]]
            balance = int(500 + scale * u)
        balances.append({"customer_id": r["customer_id"], "balance_fen": balance, "updated_at": end})
    return balances


def bill_new_months(conn: Connection, rows: list[dict], data_start: datetime, end: datetime) -> int:
    """Bills for local months that became complete since the last run, from the stored readings."""
    have = {p for (p,) in conn.execute(select(Bill.period).distinct())}
    day = local_day(data_start).replace(day=1)
    created = 0
    while True:
        begin, stop = local_midnight(day), local_midnight(next_month(day))
        if stop - HOUR > end:
            break
        period = f"{day:%Y-%m}"
        if begin >= data_start and period not in have:
            sums = {m: round(float(s) * 1000) for m, s in conn.execute(
                select(Reading.meter_id, func.sum(Reading.kwh))
                .where(Reading.ts >= begin, Reading.ts < stop).group_by(Reading.meter_id))}
            tou = [r["meter_id"] for r in rows if r["tariff_code"] == "NX-RES-TOU"]
            peaks: dict[int, int] = defaultdict(int)
            peak_set = set(peak_hours(period))
            if tou:
                for meter_id, ts, kwh in conn.execute(
                        select(Reading.meter_id, Reading.ts, Reading.kwh)
                        .where(Reading.meter_id.in_(tou), Reading.ts >= begin, Reading.ts < stop)):
                    if local_hour(ts) in peak_set:
                        peaks[meter_id] += round(float(kwh) * 1000)
            monthly = {m: {period: (wh, peaks.get(m, 0))} for m, wh in sums.items()}
            arrears = {r["customer_id"] for r in rows if r["account_no"] == fixed_accounts()["arrears"][0]}
            bills = bill_rows(rows, monthly, end=end, arrears=arrears, latest=period)
            insert_rows(conn, Bill, bills)
            created += len(bills)
        day = next_month(day)
    return created
