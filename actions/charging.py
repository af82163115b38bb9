"""EV charging: stations with a free connector now, a place in a station's queue (read back, confirmed, or
left), and the customer's own sessions and places in line — all from the charging service's live data.

Queueing and status are for a verified 户号 (its charging cards): the rules verify first, as for bills.
The queue steps travel in button payloads (charging_station, charging_kind, charging_choice entities), so
a customer can also type "在原州区排个快充" and pick from there."""
from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.client import ApiError, ApiRejected, ZhidianClient
from actions.common import (API_DOWN, channel_of, fen_to_yuan, fmt_kwh, latest_entity, now_local, parse_time,
                            verified_account)
from api.core.ids import DISTRICT_NAMES

SHOWN = 3


def price_text(station: Dict[str, Any]) -> str:
    """电费 + 服务费 per kWh in 元, as a customer reads it at the station."""
    total = (Decimal(str(station["energy_fen_per_kwh"])) + Decimal(str(station["service_fen_per_kwh"]))) / 100
    return f"{total:.2f}元/度（含服务费）"


QUEUE_HINT = "需要排队的话，跟我说“排队充电”，验证户号后我帮您排上（需已办理充电卡），轮到您时会通知您。"


def station_line(i: int, station: Dict[str, Any]) -> str:
    """One station: where (and how far, when the customer said where they are), what is free now or the
    expected wait in line, the price."""
    free = []
    if station["free_dc"]:
        free.append(f"直流快充空闲{station['free_dc']}个")
    if station["free_ac"]:
        free.append(f"交流慢充空闲{station['free_ac']}个")
    wait = station.get("expected_wait_minutes")
    if free:
        state = "、".join(free)
    elif wait is None:
        state = "暂停服务"
    else:
        state = f"充电枪都在用，现在排队预计等约{max(wait, 5)}分钟"
    distance = station.get("distance_km")
    where = station["address"] + (f"，约{distance:g}公里" if distance is not None else "")
    return f"{i}. {station['name']}（{where}）：{state}，{price_text(station)}"


def stations_message(stations: List[Dict[str, Any]], district: str | None) -> str:
    """The reply: stations with a free connector now, or why there is none."""
    free = [s for s in stations if s["free_connectors"] > 0]
    if not stations:
        return (f"{district}目前还没有接入我们系统的公共充电站。您可以告诉我其他区县，我帮您查有空闲充电枪的站点。"
                if district else "暂时没有查到可用的充电站信息，请稍后再试，或拨打95598咨询。")
    if not free:
        place = f"{district}的充电站" if district else "各充电站"
        queues = [s for s in stations if s.get("expected_wait_minutes") is not None]
        if queues:
            lines = [f"{place}现在充电枪都在使用中，暂时没有空闲的。现在排队的话："]
            lines += [station_line(i, s) for i, s in enumerate(queues[:SHOWN], 1)]
            return "\n".join(lines + [QUEUE_HINT])
        busy = "、".join(s["name"] for s in stations[:SHOWN])
        return (f"{place}（{busy}）现在充电枪都在使用中或暂停服务，暂时没有空闲的。"
                f"建议过一会儿再查{'，或者换一个区县看看' if district else ''}。")
    lines = [f"{district}现在有空闲充电枪的充电站：" if district else "现在有空闲充电枪的充电站（按空闲数量排列）："]
    lines += [station_line(i, s) for i, s in enumerate(free[:SHOWN], 1)]
    lines.append("到站后刷充电卡即可开始充电，空闲情况随时在变，以到站时为准。")
    if not district:
        lines.append("告诉我您在哪个区县，我可以只列附近的站点。")
    return "\n".join(lines)


def nearby_message(place: Dict[str, Any], stations: List[Dict[str, Any]]) -> str:
    """The reply for a place the customer named: the nearest stations, each free now or with its wait."""
    label = place.get("road") or place.get("town") or place.get("district") or "您说的位置"
    if not stations:
        return f"{label}附近暂时没有接入我们系统的公共充电站。您可以告诉我其他区县，我帮您查。"
    shown = stations[:SHOWN]
    lines = [f"离{label}最近的充电站（距离按{label}一带估算）："]
    lines += [station_line(i, s) for i, s in enumerate(shown, 1)]
    if not any(s["free_connectors"] for s in shown):
        lines.append(QUEUE_HINT)
    else:
        lines.append("到站后刷充电卡即可开始充电，空闲情况随时在变，以到站时为准。")
    return "\n".join(lines)


class ActionChargingFindStation(Action):
    """Stations nearest to a road, village or town the customer named (distance, free connectors or the wait,
    price), else those with free connectors now in the district they named."""

    def name(self) -> Text:
        return "action_charging_find_station"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        client = ZhidianClient()
        district = latest_entity(tracker, "district")
        district = district if district in DISTRICT_NAMES else None
        words = ((tracker.latest_message or {}).get("text") or "").strip()
        try:
            if words and not words.startswith("/"):
                try:
                    nearby = await client.charging_nearby(place=words[:100])
                except ApiError:  # no place in the words (or the look-up is slow): by district, or everywhere
                    nearby = None
                if nearby and nearby["place"]["level"] not in ("district", "none"):
                    dispatcher.utter_message(text=nearby_message(nearby["place"], nearby["stations"]))
                    return []
            stations = await client.charging_stations(district=district)
        except ApiError:
            dispatcher.utter_message(text=API_DOWN)
            return []
        dispatcher.utter_message(text=stations_message(stations, district))
        return []


KIND_NAMES = {"DC": "直流快充", "AC": "交流慢充", "ANY": "快充慢充都可以"}
BOOKABLE = 4  # stations offered as buttons
# What a booking (预约) is, as the queue does it (api/charging/queue.py): called at the booked time.
BOOKING_TERMS = "到时有空闲充电枪会为您预留15分钟并在这里通知您；如果那时充电枪都在用，您按预约时间排队，轮到您时再通知您。"


def time_choices(now: datetime) -> List[tuple[str, str]]:
    """The arrival times offered as buttons: now, in one and two hours (on the next 5 minutes), and tonight at 22:00
    (or tomorrow at 8:00 late in the evening) — all within the 10 minutes to 24 hours a booking allows."""
    def later(minutes: int) -> datetime:
        at = now + timedelta(minutes=minutes)
        return (at + timedelta(minutes=-at.minute % 5)).replace(second=0, microsecond=0)
    evening = now.replace(hour=22, minute=0, second=0, microsecond=0)
    if evening - now < timedelta(minutes=150):  # too close to the 2-hour choice: tomorrow morning instead
        evening = (now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    choices = [("现在就去", "now")] + [(f"{h}小时后（{later(60 * h):%H:%M}）", later(60 * h).isoformat()) for h in (1, 2)]
    label = f"今晚{evening:%H:%M}" if evening.date() == now.date() else f"明早{evening:%H:%M}"
    return choices + [(label, evening.isoformat())]
NO_CARD = ("您的户号下暂时没有可用的充电卡，所以还不能为您排队或查询充电记录。"
           "充电卡可以在充电站或供电营业厅办理，办好后再来找我就行。")


def hhmm(value: Any) -> str:
    """'14:05', or '12月6日 14:05' when it is not today (Beijing time)."""
    at = parse_time(value)
    if at is None:
        return str(value or "")
    return f"{at:%H:%M}" if at.date() == now_local().date() else f"{at.month}月{at.day}日 {at:%H:%M}"


def book_payload(**entities: str) -> str:
    """A button that carries the queue's steps chosen so far."""
    parts = ",".join(f'"{k}":"{v}"' for k, v in entities.items() if v)
    return f"/charging_book{{{parts}}}"


def place_line(entry: Dict[str, Any]) -> str:
    """Where the customer stands in a queue, the booking not due yet, or the connector held for them."""
    if entry["status"] == "waiting" and entry.get("arrive_at") and entry.get("position") is None:
        return (f"您已预约{hhmm(entry['arrive_at'])}到{entry['station_name']}"
                f"{KIND_NAMES.get(entry.get('kind') or 'ANY', '充电')}。{BOOKING_TERMS}")
    if entry["status"] == "called":
        return (f"{entry['station_name']}的{entry['charge_point_id']}号桩{entry['connector_no']}号枪已为您预留，"
                f"请在{hhmm(entry['window_until'])}前到站刷卡开始充电，逾时将顺延给下一位。")
    ahead = max(0, (entry.get("position") or 1) - 1)
    wait = entry.get("expected_wait_minutes")
    queued = f"您在{entry['station_name']}排队等{KIND_NAMES.get(entry.get('kind') or 'ANY', '充电')}，"
    queued += f"前面还有{ahead}位" if ahead else "您排在第一位"
    if wait:
        queued += f"，预计还要等约{wait}分钟"
    return queued + "。轮到您时会在这里通知您，并为您预留充电枪15分钟。"


def session_line(tx: Dict[str, Any]) -> str:
    """A running session as the customer wants to hear it."""
    parts = [f"已充{fmt_kwh(tx['energy_kwh'])}度", f"费用约{fen_to_yuan(tx['cost_fen'])}元"]
    if tx.get("power_kw") is not None:
        parts.append(f"当前功率{fmt_kwh(tx['power_kw'])}千瓦")
    if tx.get("soc_percent") is not None:
        parts.append(f"电量{float(tx['soc_percent']):.0f}%")
    line = f"您正在{tx['station_name']}的{tx['charge_point_id']}号桩{tx['connector_no']}号枪充电：{'，'.join(parts)}"
    if tx.get("estimated_finish"):
        target = "充到您要的电量" if tx.get("kwh_requested") else "充满"
        line += f"，按现在的速度预计{hhmm(tx['estimated_finish'])}左右{target}"
    return line + "。"


def not_verified(tracker: Tracker, doing: str) -> str:
    """What to say instead of acting when the customer is not verified (yet)."""
    loop = (tracker.active_loop or {}).get("name")
    if loop == "verify_form":
        return f"好的，核验通过后我马上为您{doing}。"
    if loop:
        return f"{doing}需要先核验身份。我们先把当前的事办完，之后您再找我，我马上帮您办。"
    return f"{doing}需要先核验身份，请告诉我您的10位户号和登记手机号的后四位。"


class _ChargingAction(Action, ABC):
    """Base: a verified 户号 and its charging (cards, sessions, queue); apologise when the API is down."""

    doing = ""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        account = verified_account(tracker)
        if not account:
            dispatcher.utter_message(text=not_verified(tracker, self.doing))
            return []
        try:
            mine = await ZhidianClient().charging_of(account_no=account)
            if not mine["id_tags"]:
                dispatcher.utter_message(text=NO_CARD)
                return []
            await self.answer(dispatcher, tracker, mine)
        except ApiRejected as exc:
            dispatcher.utter_message(text=exc.message or API_DOWN)
        except ApiError:
            dispatcher.utter_message(text=API_DOWN)
        return []

    @abstractmethod
    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, mine: Dict[str, Any]) -> None:
        """Word the answer from the customer's charging."""


class ActionChargingStatus(_ChargingAction):
    """The customer's running sessions (energy, cost, power, state of charge, estimated finish) and places in line."""

    doing = "查询充电进度"

    def name(self) -> Text:
        return "action_charging_status"

    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, mine: Dict[str, Any]) -> None:
        lines = [session_line(tx) for tx in mine["sessions"]] + [place_line(e) for e in mine["queue"]]
        if not lines:
            dispatcher.utter_message(
                text="您的户号下目前没有正在进行的充电，也没有在排队。需要的话，我可以帮您找有空闲充电枪的站点或者排队。",
                buttons=[{"title": "找空闲充电桩", "payload": "/charging_find_station"},
                         {"title": "排队充电", "payload": "/charging_book"}])
            return
        buttons = [{"title": "取消排队", "payload": "/charging_cancel"}] if mine["queue"] else []
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)


class ActionChargingBook(_ChargingAction):
    """Queue for a connector: the station (buttons, by district when named), the connector kind, when (now or a
    booked arrival time), a read-back, then the place in line, the booking — or the connector reserved at once
    when one is free."""

    doing = "排队充电"

    def name(self) -> Text:
        return "action_charging_book"

    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, mine: Dict[str, Any]) -> None:
        if mine["queue"]:
            dispatcher.utter_message(text=place_line(mine["queue"][0]) + "如需换站，请先取消当前排队。",
                                     buttons=[{"title": "取消排队", "payload": "/charging_cancel"}])
            return
        code, kind = latest_entity(tracker, "charging_station"), latest_entity(tracker, "charging_kind")
        choice = latest_entity(tracker, "charging_choice")
        if choice == "cancel":
            dispatcher.utter_message(text="好的，这次先不排队。需要充电时随时告诉我。")
            return
        district = latest_entity(tracker, "district")
        stations = await ZhidianClient().charging_stations(district=district if district in DISTRICT_NAMES else None)
        usable = [s for s in stations if any(c["online"] and c["status"] not in ("Faulted", "Unavailable")
                                             for c in s["connectors"])]
        station = next((s for s in usable if s["code"] == code), None)
        if station is None:
            self._ask_station(dispatcher, usable, district if district in DISTRICT_NAMES else None)
            return
        kinds = sorted({c["kind"] for c in station["connectors"] if c["online"]
                        and c["status"] not in ("Faulted", "Unavailable")})
        if kind not in ("DC", "AC", "ANY"):
            if len(kinds) > 1:
                dispatcher.utter_message(text=f"{station['name']}有直流快充和交流慢充，您想排哪一种？", buttons=[
                    {"title": KIND_NAMES[k], "payload": book_payload(charging_station=code, charging_kind=k)}
                    for k in ("DC", "AC", "ANY")])
                return
            kind = kinds[0]
        when = latest_entity(tracker, "charging_time")
        arrive_at = parse_time(when) if when and when != "now" else None
        if when is None and choice != "confirm":  # (a read-back button from before bookings means now)
            dispatcher.utter_message(text="您打算什么时候到站充电？现在就去的话直接排队；晚些到的话可以预约到站时间"
                                          "（10分钟以后、24小时以内）。", buttons=[
                {"title": title, "payload": book_payload(charging_station=code, charging_kind=kind, charging_time=value)}
                for title, value in time_choices(now_local())])
            return
        if choice != "confirm":
            what = (f"预约{hhmm(when)}到{station['name']}（{station['address']}）{KIND_NAMES[kind]}，{price_text(station)}。"
                    + BOOKING_TERMS if arrive_at else
                    f"在{station['name']}（{station['address']}）排队{KIND_NAMES[kind]}，{price_text(station)}。"
                    "现在有空闲充电枪会立即为您预留；没有的话按先后顺序排队，轮到您时会在这里通知您，并为您预留充电枪15分钟。")
            dispatcher.utter_message(
                text="请您确认：" + what,
                buttons=[{"title": "确认预约" if arrive_at else "确认排队", "payload": book_payload(
                    charging_station=code, charging_kind=kind, charging_time=when, charging_choice="confirm")},
                         {"title": "先不排了", "payload": book_payload(charging_choice="cancel")}])
            return
        entry = await ZhidianClient().join_charging_queue(
            station_code=code, id_tag=mine["id_tags"][0], kind=None if kind == "ANY" else kind,
            conversation_id=tracker.sender_id, arrive_at=arrive_at.isoformat() if arrive_at else None)
        done = "已为您预约好。" if arrive_at else "已为您排上队。" if entry["status"] == "waiting" else "好的，"
        dispatcher.utter_message(text=done + place_line(entry),
                                 buttons=[{"title": "取消排队", "payload": "/charging_cancel"}])

    @staticmethod
    def _ask_station(dispatcher: CollectingDispatcher, usable: List[Dict[str, Any]], district: str | None) -> None:
        if not usable:
            place = f"{district}" if district else "目前"
            dispatcher.utter_message(text=f"{place}接入我们系统的充电站暂时都没有能用的充电枪，没法排队。"
                                          "您可以换一个区县试试，或者稍后再问我。")
            return
        shown = usable[:BOOKABLE]
        lines = [f"请选择要排队的充电站{'（' + district + '）' if district else ''}："]
        lines += [station_line(i, s) if s["free_connectors"] else
                  f"{i}. {s['name']}（{s['address']}）：暂无空闲，可排队，{price_text(s)}" for i, s in enumerate(shown, 1)]
        if not district:
            lines.append("也可以告诉我您在哪个区县，只看附近的站。")
        dispatcher.utter_message(text="\n".join(lines), buttons=[
            {"title": s["name"], "payload": book_payload(charging_station=s["code"])} for s in shown])


class ActionChargingCancel(_ChargingAction):
    """Leave the queue (a connector held is released and the next in line called)."""

    doing = "取消排队"

    def name(self) -> Text:
        return "action_charging_cancel"

    async def answer(self, dispatcher: CollectingDispatcher, tracker: Tracker, mine: Dict[str, Any]) -> None:
        if not mine["queue"]:
            dispatcher.utter_message(text="您目前没有在排队，不需要取消。")
            return
        entry = await ZhidianClient().leave_charging_queue(entry_id=mine["queue"][0]["entry_id"])
        dispatcher.utter_message(text=f"已为您取消在{entry['station_name']}的排队。需要时随时再找我。")


FAULT_INTENT = "report_charger_fault"


def named_station(text: str, stations: List[Dict[str, Any]]) -> Dict[str, Any] | None:
    """The station the customer named in their words (its code, full name, or name without 充电站)."""
    for station in stations:
        short = station["name"].removesuffix("充电站")
        if station["code"] in text.upper() or station["name"] in text or (len(short) >= 2 and short in text):
            return station
    return None


def fault_words(tracker: Tracker) -> str:
    """What the customer said about the broken charger: their latest report in words (not a button)."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        text = (event.get("text") or "").strip()
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == FAULT_INTENT and text and not text.startswith("/"):
            return text
    return ""


class ActionReportChargerFault(Action):
    """A customer reports a broken public charger: once the station is known, a 充电设施故障 ticket for the
    充电设施运维 crew (dispatched at once, located at the station), with the customer's words; the chat is told
    its progress. No verification needed: nobody's data is shown."""

    def name(self) -> Text:
        return "action_report_charger_fault"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        client = ZhidianClient()
        words = fault_words(tracker)
        try:
            stations = await client.charging_stations()
            code = latest_entity(tracker, "charging_station")
            station = next((s for s in stations if s["code"] == code), None) or named_station(words, stations)
            if station is None:
                district = latest_entity(tracker, "district")
                nearby = [s for s in stations if s["district"] == district] or stations
                dispatcher.utter_message(text="抱歉给您添麻烦了。请问是哪个充电站的充电桩出了问题？", buttons=[
                    {"title": s["name"], "payload": f'/{FAULT_INTENT}{{"charging_station":"{s["code"]}"}}'}
                    for s in nearby[:6]])
                return []
            # at the station itself (the reporter's 户号 is not the broken charger's place), merged with the
            # station's open repair ticket; one report per conversation, station and day
            ticket = await client.report_charger_fault(station_code=station["code"], payload={
                "description": (words or "客户反映充电桩故障")[:1000], "phone": tracker.get_slot("phone"),
                "channel": channel_of(tracker), "conversation_id": tracker.sender_id,
                "idempotency_key": f"charger-report:{tracker.sender_id}:{station['code']}:{now_local():%Y%m%d}"[:128]})
        except ApiError:
            dispatcher.utter_message(text=API_DOWN)
            return []
        parent = ticket.get("parent")
        if parent:
            crew = (f"运维人员已在处理该站的故障（工单{parent['number']}）" if parent.get("crew")
                    else f"该站的故障已在安排运维人员处理（工单{parent['number']}）") + "，您的反映已一并转给他们"
        else:
            crew = ("已派给充电设施运维人员到站处理" if ticket.get("status") != "新建"
                    else "正在为您安排充电设施运维人员到站处理")
        # progress notices follow the ticket the crew works: the report's own, not one merged into another
        follow = "" if parent else "，处理进展会在这里告诉您"
        dispatcher.utter_message(text=(
            f"已为您登记{station['name']}的充电桩故障报修，工单号{ticket['number']}，{crew}{follow}。"
            "您可以先换用站内其他充电桩，或者问我“附近哪里有充电桩”找空闲的站。"))
        return []
