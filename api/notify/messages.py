"""The wording of every SMS and chat notice, in the Chinese a 95598 centre would send."""
from __future__ import annotations

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


def crew_assigned(ticket, *, reassigned: bool = False) -> str:
    """To the crew leader: all they need on site; the customer's number in full (only crews see it)."""
    head = "改派工单" if reassigned else "新工单"
    phone = ticket.contact_phone or "无"
    return (f"{SIGN}{head} {ticket.number}（{ticket.type}，优先级{ticket.priority}）。"
            f"地址：{ticket.address_text or '见系统'}；客户电话：{phone}；"
            f"诊断：{ticket.diagnosis_summary}；请于{hhmm(ticket.arrive_by)}前到达。"
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
        return f"您的工单 {ticket.number} 已由{crew_name or '抢修人员'}接单，正在赶往现场{eta}，请保持电话畅通。"
    if step == "arrived":
        return f"抢修人员已到达现场处理您的工单 {ticket.number}。"
    if step == "resolved":
        extra = f"处理情况：{note}。" if note else ""
        ask = "请您对本次服务评价：回复数字1—5（5为非常满意）。" if with_survey else "稍后我们会通过短信请您评价本次服务。"
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
