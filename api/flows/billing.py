"""Demand management for one customer or a segment: billing's rules fed with metering's readings.

Billing prices and analyses; metering owns the meters and readings and sums them in SQL; customers
owns who is who. Each step here fetches what billing asks for and hands it over as plain values.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from api.billing import advice, bills, charts, profiles, tariffs
from api.billing import service as billing
from api.billing.schemas import (
    Account,
    AdviceRead,
    BillForecastRead,
    ClusterRead,
    ConsumptionAnalysisRead,
    PeerComparison,
    Peers,
    SegmentMember,
    SegmentRead,
    TouComparisonRead,
)
from api.core.time import local_day
from api.customers import service as customers
from api.customers.models import Customer
from api.metering import service as metering


def account(customer: Customer) -> Account:
    """What billing needs to know of the customer."""
    return Account(customer_id=customer.id, account_no=customer.account_no, customer_class=customer.customer_class,
                   tariff_code=customer.tariff_code, contract_capacity_kva=Decimal(customer.contract_capacity_kva),
                   district=customer.district)


def forecast_bill(*, session: Session, customer: Customer, now: datetime,
                  region: str = tariffs.DEFAULT_REGION) -> BillForecastRead:
    """This month's projected kWh and bill (NotFound "no_meter" without a meter)."""
    meter = metering.require_meter_by_customer(session=session, customer_id=customer.id)
    hourly = metering.hourly_kwh(session=session, meter_id=meter.id, start=bills.history_start(now), end=now)
    return bills.forecast_bill(session=session, account=account(customer), hourly=hourly, now=now, region=region)


def analyse(*, session: Session, customer: Customer, now: datetime, days: int = 30,
            region: str = tariffs.DEFAULT_REGION, with_cluster: bool = True) -> ConsumptionAnalysisRead:
    """The customer's consumption over the last `days` complete local days, against its peers
    (NotFound "no_meter" without a meter)."""
    meter = metering.require_meter_by_customer(session=session, customer_id=customer.id)
    _first, _last, start, end = profiles.window(now, days)
    hourly = metering.hourly_kwh(session=session, meter_id=meter.id, start=start, end=end)
    return profiles.analyse(
        account=account(customer), hourly=hourly, now=now, days=days, region=region,
        cluster=_cluster(session=session, customer=customer, meter_id=meter.id, start=start, end=end)
        if with_cluster else None,
        comparison=_comparison(session=session, customer=customer, meter_id=meter.id, start=start, end=end,
                               days=days))


def _meter_ids(*, session: Session, customer_ids: list[int]) -> list[int]:
    """The meters of these customers, by meter id."""
    return sorted(metering.meter_ids_by_customer(session=session, customer_ids=customer_ids).values())


def _cluster(*, session: Session, customer: Customer, meter_id: int, start: datetime,
             end: datetime) -> ClusterRead | None:
    """The customer's load-shape group among a sample of its class."""
    peers = _meter_ids(session=session, customer_ids=customers.list_ids(
        session=session, customer_class=customer.customer_class))
    rows = metering.mean_kwh_by_hour(session=session, meter_ids=profiles.peer_sample(peers, keep=meter_id),
                                     start=start, end=end)
    return profiles.cluster_of(profiles=profiles.full_day_profiles(rows), meter_id=meter_id)


def _comparison(*, session: Session, customer: Customer, meter_id: int, start: datetime, end: datetime,
                days: int) -> PeerComparison | None:
    """Daily kWh against the same class in the transformer area, or in the district when the area has too few."""
    area = metering.get_area(session=session, transformer_area_id=customer.transformer_area_id)
    for scope in profiles.PEER_SCOPES:
        if scope == "台区":
            ids = customers.list_ids(session=session, customer_class=customer.customer_class,
                                          transformer_area_id=customer.transformer_area_id)
            code, name = (area.code, area.name) if area else (None, "本台区")
        else:
            ids = customers.list_ids(session=session, customer_class=customer.customer_class,
                                          district=customer.district)
            code, name = None, customer.district
        meter_ids = sorted(set(_meter_ids(session=session, customer_ids=ids)) | {meter_id})
        averages = metering.daily_average_kwh(session=session, meter_ids=meter_ids, start=start, end=end,
                                              min_hours=profiles.FULL_DAY_HOURS)
        if meter_id not in averages:
            return None
        found = profiles.compare_with_peers(account=account(customer), meter_id=meter_id, days=days,
                                            peers=Peers(scope=scope, area_code=code, area_name=name,
                                                        averages=averages))
        if found is not None:
            return found
    return None


def tou_comparison(*, session: Session, customer: Customer, now: datetime, region: str = tariffs.DEFAULT_REGION,
                   months: int = 12) -> TouComparisonRead:
    """The last months billed both ways, 阶梯 against 峰谷."""
    held = account(customer)
    billed = advice.billed_months(session=session, account=held, now=now, months=months)
    meter = metering.get_meter_by_customer(session=session, customer_id=customer.id)
    hourly = None if meter is None else []
    if meter is not None and advice.tou_applies(account=held, now=now, region=region):
        for start, end in advice.tou_windows(now=now, bills=billed):
            hourly = metering.hourly_kwh(session=session, meter_id=meter.id, start=start, end=end)
            if hourly:
                break
    return advice.tou_comparison(session=session, account=held, now=now, bills=billed, hourly=hourly,
                                 region=region, months=months)


def tips(*, session: Session, customer: Customer, now: datetime, region: str = tariffs.DEFAULT_REGION) -> AdviceRead:
    """3–5 tips from the customer's own pattern (NotFound "no_meter" without a meter)."""
    analysis = analyse(session=session, customer=customer, now=now, days=advice.RECENT_DAYS, region=region,
                       with_cluster=False)
    return advice.tips(account=account(customer), now=now, analysis=analysis, region=region,
                       forecast=forecast_bill(session=session, customer=customer, now=now, region=region),
                       comparison=tou_comparison(session=session, customer=customer, now=now, region=region))


def analysis_with_chart(*, session: Session, customer: Customer, now: datetime, days: int, region: str,
                        secret: str) -> ConsumptionAnalysisRead:
    """The consumption analysis with a signed link to its chart for the web chat."""
    found = analyse(session=session, customer=customer, now=now, days=days, region=region)
    return found.model_copy(update={"chart_url": charts.link(secret=secret, account_no=customer.account_no)})


def profile_chart(*, session: Session, customer: Customer, now: datetime, region: str) -> str:
    """The customer's average day as SVG, its hours coloured by 峰谷 band."""
    analysis = analyse(session=session, customer=customer, now=now, region=region)
    return charts.profile_svg(analysis, bands=charts.tou_bands(region=region, year=now.year))


# ------------------------------------------------------------------------------ segments

def _residential_meters(*, session: Session, schedule: tariffs.Schedule, kinds: tuple[str, ...]) -> list[int]:
    """Meters of residential customers on the schedule's tariffs of these kinds."""
    return _meter_ids(session=session, customer_ids=customers.list_ids(
        session=session, customer_class="居民", tariff_codes=advice.tariff_codes(schedule, kinds)))


def segments(*, session: Session, now: datetime, kind: str, region: str = tariffs.DEFAULT_REGION,
             days: int = advice.RECENT_DAYS, min_saving_yuan: Decimal = Decimal(30),
             limit: int | None = None) -> SegmentRead:
    """Customers of one segment for outreach, best first (NotFound "segment_not_found" for an unknown kind)."""
    advice.require_segment_kind(kind)
    first, last, start, end = profiles.window(now, days)
    schedule = tariffs.schedule_for(region=region, year=last.year)
    if kind == "tou_beneficiaries":
        groups = advice.tou_groups(schedule)
        sums = {} if groups is None else metering.kwh_by_hour_group(
            session=session, start=start, end=end, groups=groups,
            meter_ids=_residential_meters(session=session, schedule=schedule, kinds=advice.TOU_KINDS))
        columns, scored = advice.tou_beneficiaries(schedule=schedule, sums=sums,
                                                   min_saving_yuan=Decimal(min_saving_yuan))
    elif kind == "night_heavy":
        # first pass over everyone, grouped by meter only; the hourly profile for the candidates only
        candidates = advice.night_candidates(metering.kwh_by_hour_group(
            session=session, start=start, end=end, groups=advice.NIGHT_GROUPS, high_hours=profiles.NIGHT_HOURS,
            high_kwh=advice.EV_KW,
            meter_ids=_residential_meters(session=session, schedule=schedule, kinds=tariffs.RESIDENTIAL_KINDS)))
        by_hour = metering.kwh_by_hour(session=session, meter_ids=sorted(candidates), start=start, end=end,
                                       high_kwh=advice.EV_KW) if candidates else {}
        columns, scored = advice.night_heavy(candidates=candidates, by_hour=by_hour)
    elif kind == "high_growth":
        columns, scored = advice.high_growth(metering.kwh_in_windows(
            session=session, windows=advice.growth_windows(start, end)))
    else:
        meters = _residential_meters(session=session, schedule=schedule, kinds=advice.near_tier_kinds(schedule))
        sums = metering.kwh_in_windows(session=session, windows=advice.near_tier_windows(now), meter_ids=meters)
        billed_before = {}
        if schedule.residential.tier_period == "year":  # yearly tiers count what was billed this year
            billed = billing.kwh_billed_before_by_customer(session=session, month=f"{local_day(now):%Y-%m}")
            meter_of = metering.meter_ids_by_customer(session=session)
            billed_before = {meter_of[c]: kwh for c, kwh in billed.items() if c in meter_of}
        columns, scored = advice.near_tier_2(schedule=schedule, now=now, sums=sums, billed_before=billed_before)
        first, last = local_day(now).replace(day=1), local_day(now)
    scored = advice.rank(scored, limit)
    return advice.segment_read(kind=kind, now=now, start=first, end=last, days=days, min_saving_yuan=min_saving_yuan,
                               schedule=schedule, columns=columns, scored=scored,
                               members=_segment_members(session=session, meter_ids=[m for m, _, _ in scored]))


def _segment_members(*, session: Session, meter_ids: list[int]) -> dict[int, SegmentMember]:
    """Who is behind each meter, with the customer's transformer area."""
    if not meter_ids:
        return {}
    customer_of = metering.customer_ids_by_meter(session=session, meter_ids=meter_ids)
    people = customers.get_many(session=session, customer_ids=list(customer_of.values()))
    areas = {a.id: a for a in metering.list_areas(session=session)}
    out = {}
    for meter_id, customer_id in customer_of.items():
        c = people[customer_id]
        area = areas[c.transformer_area_id]
        out[meter_id] = SegmentMember(account_no=c.account_no, name=c.name, customer_class=c.customer_class,
                                      district=c.district, town=c.town, area_code=area.code, area_name=area.name,
                                      tariff_code=c.tariff_code)
    return out
