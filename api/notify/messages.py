"""The wording of every SMS and chat notice, in the Chinese a 95598 centre would send."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from api.core.ids import mask_phone
from api.core.time import LOCAL_TZ

SIGN = "【国网固原供电】"


def hhmm(at: datetime | None) -> str:
    """11:45, or 11月26日 09:30 when it is not today (Shanghai time)."""
    if at is None:
        return ""
    local = at.astimezone(LOCAL_TZ)
    today = datetime.now(LOCAL_TZ).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local.month}月{local.day}日 {local:%H:%M}"


CREW_SMS_WORDS, CREW_SMS_BRING = 40, 4  # the customer's words and the kit, cut to keep the SMS short


def crew_assigned(ticket, *, reassigned: bool = False, bring: Sequence[str] = ()) -> str:
    """To the crew leader: all they need on the road and on site — the customer's number in full (only crews
    see it) and own words, the diagnosis written for the crew (crew_note, never the words the customer was
    told), what to bring, and the coordinates for navigation when the address was located."""
    head = "改派工单" if reassigned else "新工单"
    phone = ticket.contact_phone or "无"
    words = " ".join((ticket.description or "").split())
    if len(words) > CREW_SMS_WORDS:
        words = words[:CREW_SMS_WORDS] + "…"
    kit = "、".join(bring[:CREW_SMS_BRING]) + ("等" if len(bring) > CREW_SMS_BRING else "")
    return (f"{SIGN}{head} {ticket.number}（{ticket.type}，优先级{ticket.priority}）。"
            f"地址：{ticket.address_text or '见系统'}"
            + (f"（坐标{ticket.lat:.5f},{ticket.lon:.5f}）" if ticket.lat is not None and ticket.lon is not None else "")
            + f"；客户电话：{phone}；"
            + (f"{'监测发现：' if ticket.channel == 'monitoring' else '客户原话：'}“{words}”；" if words else "")
            + f"先查：{ticket.crew_note or '见系统'}；"
            + (f"携带：{kit}；" if kit else "")
            + f"请于{hhmm(ticket.arrive_by)}前到达。"
            f"回复“1 {ticket.number}”接单，“0 {ticket.number} 原因”退单。")


def crew_changed(ticket, what: str) -> str:
    """To the crew when their ticket changes (改派走, 撤销, 升级, 挂起)."""
    return f"{SIGN}工单 {ticket.number} {what}。"


def crew_ack(ticket, action: str) -> str:
    """Confirms a crew's SMS command."""
    done = {"accept": "已接单，请尽快出发", "arrive": "已记录到达现场", "resolve": "已记录处理完成，辛苦了",
            "reject": "已退单，系统将改派其他班组"}[action]
    return f"{SIGN}工单 {ticket.number} {done}。"


def sla_warning(ticket, minutes_left: int) -> str:
    """Before a breach, to the crew (and the supervisor)."""
    return f"{SIGN}提醒：工单 {ticket.number} 距承诺时限还剩约{minutes_left}分钟（{hhmm(ticket.arrive_by)}），请抓紧处理。"


def sla_breach(ticket) -> str:
    """At a breach, to the supervisor."""
    return (f"{SIGN}超时升级：工单 {ticket.number}（{ticket.type}，{ticket.district or ''}）已超过承诺时限"
            f"{hhmm(ticket.arrive_by)}，当前状态“{ticket.status}”，请协调处理。")


def survey(ticket) -> str:
    """The satisfaction survey (回访), by SMS."""
    return (f"{SIGN}您的工单 {ticket.number} 已处理完成。请您对本次服务评价：回复数字1—5（5为非常满意）。"
            "感谢您的支持！")


def customer_progress(ticket, step: str, *, crew_name: str | None = None, note: str | None = None,
                      with_survey: bool = True) -> str:
    """To the customer, on the channel they used."""
    if step == "accepted":
        eta = f"，预计{hhmm(ticket.crew_eta)}前到达" if ticket.crew_eta else ""
        phone = "，请保持电话畅通" if ticket.contact_phone else ""
        return f"您的工单 {ticket.number} 已由{crew_name or '抢修人员'}接单，正在赶往现场{eta}{phone}。"
    if step == "arrived":
        return f"抢修人员已到达现场处理您的工单 {ticket.number}。"
    if step == "resolved":
        extra = f"处理情况：{note}。" if note else ""
        ask = ("请您对本次服务评价：回复数字1—5（5为非常满意）。" if with_survey
               else "稍后我们会通过短信请您评价本次服务。" if ticket.contact_phone else "")
        return f"您的工单 {ticket.number} 已处理完成。{extra}{ask}感谢您的支持！"
    raise ValueError(step)


def customer_thanks(score: int) -> str:
    """Reply to a satisfaction score."""
    if score >= 4:
        return "感谢您的评价！我们会继续努力为您提供优质的供电服务。"
    return "非常抱歉本次服务没能让您满意，我们已记录您的评价，工作人员会尽快与您联系改进。"


def masked(phone: str | None) -> str:
    """For messages to anyone but the crew."""
    return mask_phone(phone) or ""


def outage_notice(*, place: str, since: datetime, cause: str, dispatched: bool, expected_by: datetime | None,
                  link: str | None = None) -> str:
    """To the customers of an area the meters show without supply, before they call (主动告知)."""
    crew = "抢修人员已出发" if dispatched else "我们正在安排抢修人员"
    expected = f"，预计{hhmm(expected_by)}前恢复供电（以现场抢修情况为准）" if expected_by else ""
    follow = f"抢修进展可在网上客服查看：{link} 。" if link else ""
    return (f"{SIGN}您好，我们监测到{place}自{hhmm(since)}起停电，初步判断是{cause}。{crew}{expected}。"
            f"您无需再报修；如家中有人触电、电线落地等危险情况，请立即拨打95598。{follow}给您带来不便，敬请谅解。")


def outage_greeting(*, place: str, since: datetime, status: str, expected_by: datetime | None,
                    restored_at: datetime | None) -> str:
    """The web chat opened from an outage notice: the known outage first, not a request to report it."""
    if restored_at is not None:
        return (f"您好，{place}自{hhmm(since)}起的停电已于{hhmm(restored_at)}恢复供电。如您家中仍然没电，"
                f"请先检查家里的总开关；仍没有电请直接告诉我“我家还是没电”，我为您登记报修。")
    expected = f"，预计{hhmm(expected_by)}前恢复供电（以现场抢修情况为准）" if expected_by else ""
    return (f"您好，我们已掌握{place}自{hhmm(since)}起停电的情况，抢修工单处理中（当前：{status}）{expected}，"
            f"您无需再报修。还有其他问题可以直接问我。")


def household_outage_notice(*, account_no: str, since: datetime) -> str:
    """To a customer whose own meter shows no supply while the neighbours have it."""
    return (f"{SIGN}您好，我们监测到户号{account_no[:4]}****{account_no[-2:]}的电能表自{hhmm(since)}起没有电，"
            f"而周边供电正常，可能是您家中的总开关或漏电保护器跳闸，请先检查；如开关正常仍无电，"
            f"回复本短信或在网上客服说明，我们安排人员上门。")


def restored_notice(*, place: str, at: datetime) -> str:
    """Supply is back (the meters say so)."""
    return (f"{SIGN}您好，{place}已于{hhmm(at)}恢复供电。如您家中仍然没电，请检查家里的总开关，"
            f"或在网上客服、95598告诉我们。感谢您的耐心等待！")


def planned_outage_notice(*, step: str, scope: str, start: datetime, end: datetime, reason: str) -> str:
    """A planned outage announced the day before and an hour before."""
    when = "明天" if step == "day_before" else "1小时后"
    return (f"{SIGN}停电通知：因{reason}，{when}（{hhmm(start)}至{hhmm(end)}）{scope}将停电，"
            f"请提前做好准备，停电期间请勿触碰电力设施。如有疑问请咨询95598。")


def supervisor_alert(*, label: str, summary: str, ticket_number: str | None, done: str) -> str:
    """To the supervisors on duty: what the meters showed and what the system did."""
    ticket = f"工单{ticket_number}，" if ticket_number else ""
    return f"{SIGN}主动发现【{label}】{summary}。{ticket}{done}。"


def charging_called(*, station_name: str, charge_point_id: str, connector_no: int, window_until: datetime) -> str:
    """The customer's turn in a charging queue: which connector is held and until when."""
    return (f"{SIGN}轮到您充电了：{station_name}的{charge_point_id}号桩{connector_no}号枪已为您预留，"
            f"请在{hhmm(window_until)}前到站刷卡开始充电；逾时未到，预留将顺延给下一位。")


def charging_expired(*, station_name: str) -> str:
    """The customer missed the arrival window."""
    return (f"{SIGN}您在{station_name}的充电预留已过时，排队已结束，为您预留的充电枪已让给下一位。"
            "如仍需充电，可在智能客服里重新排队。")


def charging_short(*, station_name: str, departure_at: datetime, wanted_kwh: float, reachable_kwh: float,
                   area_limited: bool) -> str:
    """An owner's wish cannot be met by their departure: what they will have, and why, early."""
    why = "当前台区用电紧张，充电功率需要错峰控制" if area_limited else "受车辆和充电桩的最大充电功率所限"
    return (f"{SIGN}您在{station_name}的充电：{why}，到您预计离开的{hhmm(departure_at)}预计能充到约"
            f"{reachable_kwh:.1f}度，达不到您需要的{wanted_kwh:.1f}度。如时间允许，可以晚些离开。")


def charging_done(*, station_name: str, energy_kwh: float | None, cost_fen: int | None) -> str:
    """A queued customer's session ended: energy and cost."""
    figures = (f"本次充电{energy_kwh:.2f}度，费用{cost_fen / 100:.2f}元（含服务费）。"
               if energy_kwh is not None and cost_fen is not None else "")
    return f"{SIGN}您在{station_name}的充电已结束。{figures}请及时挪车，方便下一位车主充电。"
