"""Small SVG charts for the web chat (a customer's day profile), and signed links to them.

The chat shows images by URL and the customer's browser has no staff session, so a chart link
carries its own proof: an HMAC of the account and an expiry, signed with the API's secret. The
chart itself is plain SVG text (no plotting library, nothing to download).
"""
from __future__ import annotations

import hashlib
import hmac
import math
import time
from html import escape

from api.billing import tariffs
from api.billing.schemas import ConsumptionAnalysisRead
from api.core.errors import Forbidden

LINK_SECONDS = 7 * 24 * 3600
BAND_COLOURS = {"peak": "#f08c3a", "sharp": "#d9534f", "flat": "#8fb8b4", "valley": "#3c8dbc"}
WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 30, 34


def sign(*, secret: str, account_no: str, expires: int) -> str:
    """The signature of a chart link."""
    message = f"profile:{account_no}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def link(*, secret: str, account_no: str, now: float | None = None) -> str:
    """A relative URL of the customer's profile chart, valid for a week."""
    expires = int((now if now is not None else time.time()) + LINK_SECONDS)
    return f"/charts/profile/{account_no}.svg?exp={expires}&sig={sign(secret=secret, account_no=account_no, expires=expires)}"


def verify(*, secret: str, account_no: str, expires: int, signature: str, now: float | None = None) -> bool:
    """Whether a chart link is genuine and not expired."""
    if expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(sign(secret=secret, account_no=account_no, expires=expires), signature)


def require_valid(*, secret: str, account_no: str, expires: int, signature: str) -> None:
    """Forbidden ("bad_link") unless the chart link is genuine and not expired."""
    if not verify(secret=secret, account_no=account_no, expires=expires, signature=signature):
        raise Forbidden("bad_link", "图表链接无效或已过期")


def nice_ticks(peak: float, *, most: int = 5) -> list[float]:
    """Even y-axis ticks from 0 that cover ``peak``: a step of 1, 2, 2.5 or 5 × 10^k, at most
    ``most`` steps — 0, 0.2, 0.4, 0.6, 0.8, 1.0 for a peak of 0.89 kW — so every label sits on its
    line and reads like the figure in the text."""
    peak = max(peak, 0.0)
    if peak == 0:
        return [0.0, 0.1]
    raw = peak / most
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude * most >= peak)
    count = math.ceil(peak / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick's label with as many decimals as the step needs (0.25 → '0.25', 0.4 → '0.4', 2 → '2')."""
    decimals = 0
    while decimals < 3 and abs(round(step, decimals) - step) > 1e-9:
        decimals += 1
    return f"{value:.{decimals}f}"


def tou_bands(*, region: str, year: int) -> dict[int, str]:
    """Each local hour's 峰谷 band under the region's residential plan (empty without one)."""
    plan = tariffs.schedule_for(year=year, region=region).residential.tou
    return {hour: plan.band_of_hour(hour) for hour in range(24)} if plan else {}


def profile_svg(analysis: ConsumptionAnalysisRead, *, bands: dict[int, str]) -> str:
    """The customer's average day (kW per hour, coloured by 峰/谷) with the peer group's shape as a line.

    `bands` maps each local hour to its 峰谷 band (`tou_bands`).
    """
    profile = analysis.profile_kw
    peer = None
    if analysis.cluster is not None and sum(analysis.cluster.centroid) > 0:
        scale = sum(profile)
        peer = [share * scale for share in analysis.cluster.centroid]
    ticks = nice_ticks(max([*profile, *(peer or [])], default=0.0))
    top, step = ticks[-1], ticks[1] - ticks[0]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bar_w = plot_w / 24
    y = lambda kw: TOP + plot_h * (1 - kw / top)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" font-family="sans-serif" font-size="10">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
             f'<text x="{LEFT}" y="16" font-size="12" font-weight="bold">'
             f'{escape(f"近{analysis.days_with_data}天平均每小时用电（千瓦）")}</text>']
    for tick in ticks:
        parts.append(f'<text x="{LEFT - 4}" y="{y(tick) + 3:.1f}" text-anchor="end" fill="#666">'
                     f'{tick_label(tick, step)}</text>')
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>')
    for hour, kw in enumerate(profile):
        colour = BAND_COLOURS.get(bands.get(hour, "flat"), "#8fb8b4")
        parts.append(f'<rect x="{LEFT + hour * bar_w + 1:.1f}" y="{y(kw):.1f}" width="{bar_w - 2:.1f}" '
                     f'height="{TOP + plot_h - y(kw):.1f}" fill="{colour}"><title>{hour}时 {kw:.2f}千瓦</title></rect>')
    if peer:
        points = " ".join(f"{LEFT + (h + 0.5) * bar_w:.1f},{y(kw):.1f}" for h, kw in enumerate(peer))
        parts.append(f'<polyline points="{points}" fill="none" stroke="#333" stroke-width="1.5" stroke-dasharray="3 2"/>')
    for hour in (0, 6, 12, 18, 23):
        parts.append(f'<text x="{LEFT + (hour + 0.5) * bar_w:.1f}" y="{TOP + plot_h + 12}" text-anchor="middle" '
                     f'fill="#666">{hour}时</text>')
    legend = [("峰段", BAND_COLOURS["peak"]), ("谷段", BAND_COLOURS["valley"])]
    x = LEFT
    for name, colour in legend:
        parts.append(f'<rect x="{x}" y="{HEIGHT - 12}" width="10" height="8" fill="{colour}"/>'
                     f'<text x="{x + 13}" y="{HEIGHT - 5}">{name}</text>')
        x += 50
    if peer:
        label = f"虚线：同类用户（{analysis.cluster.label}）的用电形状"
        parts.append(f'<text x="{x}" y="{HEIGHT - 5}" fill="#333">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
