"""App factory: settings, routers, error shapes, and the lifespan that builds shared parts."""
from __future__ import annotations

import asyncio
import hashlib
import logging
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.access.middleware import AccessLog
from api.access.routes import router as access_log_router
from api.analytics.routes import router as analytics_router
from api.channels.outbound import ChannelReplies
from api.channels.sms import queue_sms_reply
from api.channels.web import STATIC_DIR, TEMPLATES_DIR, ChatConnections
from api.channels.wechat import WeChatSender, make_client, queue_wechat_reply, user_last_wrote, wechat_router
from api.channels.web import router as web_router
from api.charging.analytics_routes import analytics_router as charging_analytics_router
from api.charging.ocpp_server import CentralSystem
from api.charging.relay import CommandRelay
from api.charging.routes import charging_router, ocpp_router
from api.conversations.desk import AgentDesk
from api.conversations.gateway import ChatGateway
from api.conversations.handoff import parse_hours
from api.conversations.live import LiveBus, forward_to_customers
from api.conversations.rasa import RasaClient
from api.conversations.routes import agent_router, chat_router, staff_router
from api.conversations.service import record_notice
from api.core.errors import DatabaseUnavailable, install_error_handler
from api.core.headers import REDOC_CONTENT_SECURITY_POLICY, SecurityHeaders
from api.core.logs import install_masking
from api.core.ratelimit import make_rate_limiter
from api.customers.routes import router as customers_router
from api.core.time import utcnow
from api.db import make_engine, make_sessionmaker
from api.demo.jobs import run_live_feed
from api.flows.audit_jobs import run_audit_jobs
from api.flows.customers import phone_of_wechat_user
from api.flows.charging import charger_faulted, tell_queue_event, tell_session_ended
from api.flows.forecast_jobs import run_forecast_jobs
from api.flows.orderly_charging import replan_for_charger, run_orderly_charging
from api.flows.proactive_jobs import run_proactive_jobs
from api.flows.routes.agent import agent_flows_router
from api.flows.routes.audit import audit_router
from api.flows.routes.billing import billing_router, charts_router
from api.flows.routes.charging import charger_reports_router, charging_board_router, nearby_router
from api.flows.routes.customers import customers_router as customer_view_router
from api.flows.routes.dispatch import dispatch_router
from api.flows.routes.forecasting import forecasting_router
from api.flows.routes.leave_message import leave_message_router
from api.flows.routes.metering import intake_router, monitoring_router, notice_router
from api.flows.routes.outages import outages_router
from api.flows.routes.sms import sms_router
from api.flows.routes.tickets import tickets_router as ticket_work_router
from api.flows.ticket_jobs import run_ticket_jobs
from api.geo.address import get_parser
from api.kb.routes import router as kb_router
from api.metering.routes import router as metering_router
from api.notify.routes import staff_router as notify_router
from api.notify.routes import twilio_router
from api.notify.sms import TwilioSms
from api.notify.worker import OutboxWorker
from api.settings import Settings, get_settings, require_strong_secrets
from api.staff import service as staff_service
from api.staff.routes import router as staff_accounts_router
from api.tickets.routes import router as tickets_router
from knowledge_base.config import KbConfig
from knowledge_base.holder import KnowledgeBaseHolder

log = logging.getLogger(__name__)
# Order matters where paths overlap: a domain's fixed paths (/api/customers/search…) before the
# flows' /{account_no} ones.
ROUTERS = (chat_router, leave_message_router, staff_router, agent_router, agent_flows_router, customers_router, customer_view_router, dispatch_router,
           kb_router, metering_router, notify_router, twilio_router, sms_router, staff_accounts_router,
           ticket_work_router, outages_router, tickets_router, analytics_router, billing_router,
           forecasting_router, charts_router, audit_router, intake_router, monitoring_router, notice_router,
           access_log_router, charging_router, charging_analytics_router, charging_board_router, charger_reports_router,
           nearby_router, ocpp_router,
           wechat_router, web_router)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; nothing heavy happens until the lifespan starts."""
    settings = settings or get_settings()
    require_strong_secrets(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        install_masking()
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        http = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
        app.state.bot = RasaClient(settings.rasa_url, settings.rasa_timeout_seconds, http, token=settings.rasa_token)
        app.state.bus = LiveBus(settings.redis_url, channel=live_channel(settings.database_url))
        await app.state.bus.start()
        # lines for customers on SMS or WeChat (late bot replies, agents' replies) go out through the outbox
        outbound = ChannelReplies({"sms": queue_sms_reply, "wechat": queue_wechat_reply})
        app.state.desk = AgentDesk(sessionmaker=app.state.sessionmaker, bus=app.state.bus, outbound=outbound,
                                   presence_seconds=settings.agent_presence_seconds,
                                   default_limit=settings.agent_max_chats,
                                   roster=partial(staff_service.list_active, role="agent"),
                                   office_hours=parse_hours(settings.agent_office_hours),
                                   reply_minutes=settings.agent_reply_minutes)
        # an agent who signs out leaves at once: their chats go back to the front of the queue
        app.state.on_sign_out = lambda *, username, role: (
            app.state.desk.agent_left(username=username, reason="signed_out") if role == "agent" else None)
        # rate limits in Redis when REDIS_URL is set, in the database when it is not or while it is down
        app.state.limiter = make_rate_limiter(redis_url=settings.redis_url, sessionmaker=app.state.sessionmaker)
        app.state.gateway = ChatGateway(sessionmaker=app.state.sessionmaker, bot=app.state.bot,
                                        desk=app.state.desk, limiter=app.state.limiter, outbound=outbound)
        app.state.address_parser = get_parser
        app.state.ocpp = CentralSystem(  # the chargers connected to this process; a fault opens a repair ticket,
            sessionmaker=app.state.sessionmaker,  # a session starting or stopping re-plans its area's charging
            on_fault=lambda **fault: charger_fault_ticket(sessionmaker=app.state.sessionmaker, **fault),
            on_session_change=lambda charger: replan_for_charger(app.state.ocpp, app.state.sessionmaker, charger),
            on_queue_event=partial(queue_notice, app.state.sessionmaker),
            relay=CommandRelay(app.state.bus))  # commands to chargers connected to another API process
        # the queue's windows run where the chargers are connected (CancelReservation, ReserveNow go through them)
        queue_jobs = [asyncio.create_task(app.state.gateway.run_sweeper()),  # turns a dead process left pending
                      asyncio.create_task(app.state.desk.run_presence_sweeper()),  # agents who went silent
                      asyncio.create_task(app.state.ocpp.run_queue_jobs()),
                      asyncio.create_task(app.state.ocpp.serve_relayed()),
                      asyncio.create_task(run_orderly_charging(app.state.ocpp, app.state.sessionmaker))]
        app.state.connections = ChatConnections()
        pushes = asyncio.create_task(forward_to_customers(app.state.bus, app.state.connections))
        app.state.sms = sms_sender(settings)
        app.state.wechat_client = make_client(settings)  # fetching pictures users send; None when not configured
        workers = start_workers(app, settings) if settings.background_workers else []
        app.state.kb = kb_holder(settings)
        await asyncio.to_thread(app.state.kb.refresh)
        kb_watch = asyncio.create_task(watch_kb(app.state.kb, settings.kb_reload_seconds))
        feed = None
        if settings.demo_live:
            feed = asyncio.create_task(run_live_feed(engine))
        try:
            yield
        finally:
            kb_watch.cancel()
            pushes.cancel()
            for task in queue_jobs:
                task.cancel()
            for task in workers:
                task.cancel()
            if feed is not None:
                feed.cancel()
            await http.aclose()
            await app.state.bus.stop()
            app.state.limiter.close()
            engine.dispose()

    # FastAPI's own /docs and /redoc load their scripts from a CDN: ours use the vendored copies
    app = FastAPI(title="智电 Zhidian API", version="0.1.0", lifespan=lifespan,
                  description="Gateway and services of the Zhidian power-utility assistant.",
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.staff_directory = staff_service  # who may sign in, which sessions ended (api.core.deps)
    _add_error_handlers(app)
    _include_routers(app)
    _add_api_docs(app)
    app.add_middleware(AccessLog)
    app.add_middleware(SecurityHeaders, https=settings.public_base_url.startswith("https://"))
    return app


def live_channel(database_url: str) -> str:
    """The Redis channel of live events: shared by every API process on the same database, only them."""
    return "zhidian:live:" + hashlib.sha1(database_url.encode()).hexdigest()[:12]


def wechat_sender(settings: Settings) -> WeChatSender | None:
    """WeChat customer-service messages when the account is configured; None keeps them in the outbox."""
    client = make_client(settings)
    return WeChatSender(client, settings.wechat_notice_template_id) if client is not None else None


def sms_sender(settings: Settings):
    """Twilio when configured; None keeps SMS in the outbox (supervisors see them waiting)."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    return TwilioSms(account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
                     from_number=settings.twilio_from_number,
                     messaging_service_sid=settings.twilio_messaging_service_sid,
                     base_url=settings.twilio_base_url)


def queue_notice(sessionmaker, event: str, entry_id: int) -> None:
    """A queue event to tell the customer, or ("ended", transaction id) a session that did not come through
    the queue (called by the OCPP central system in a worker thread)."""
    with sessionmaker() as session:
        if event == "ended":
            tell_session_ended(session=session, transaction_id=entry_id, now=utcnow())
        else:
            tell_queue_event(session=session, event=event, entry_id=entry_id, now=utcnow())


def charger_fault_ticket(*, sessionmaker, **fault) -> None:
    """A charger turned Faulted (called by the OCPP central system in a worker thread)."""
    with sessionmaker() as session:
        charger_faulted(session=session, **fault)


def start_workers(app: FastAPI, settings: Settings) -> list[asyncio.Task]:
    """The embedded workers: the outbox, the ticket jobs (SLA, re-dispatch, backlog), nightly forecasts and audit scan."""
    worker = OutboxWorker(sessionmaker=app.state.sessionmaker, sms=app.state.sms, chat=record_notice,
                          status_callback_url=settings.public_base_url.rstrip("/") + "/api/notify/twilio/status",
                          bus=app.state.bus, wechat=wechat_sender(settings),
                          phone_of_wechat_user=phone_of_wechat_user,
                          wechat_user_last_wrote=user_last_wrote)
    return [asyncio.create_task(worker.run()),
            asyncio.create_task(run_ticket_jobs(
                sessionmaker=app.state.sessionmaker, supervisors=settings.supervisor_mobiles,
                offer_timeout=timedelta(minutes=settings.dispatch_offer_timeout_minutes))),
            *([asyncio.create_task(run_forecast_jobs(sessionmaker=app.state.sessionmaker))]
              if settings.forecast_jobs else []),
            *([asyncio.create_task(run_audit_jobs(sessionmaker=app.state.sessionmaker, days=settings.audit_scan_days,
                                                   score_days=settings.audit_score_days))]
              if settings.audit_jobs else []),
            *([asyncio.create_task(run_proactive_jobs(sessionmaker=app.state.sessionmaker, settings=settings))]
              if settings.proactive_jobs else [])]


def kb_holder(settings: Settings):
    """The process's knowledge base, configured from the API settings."""
    return KnowledgeBaseHolder(KbConfig(
        kb_dir=settings.kb_dir, region=settings.kb_region, embedding_model=settings.embedding_model,
        answer_threshold=settings.kb_answer_threshold))


async def watch_kb(holder, every_seconds: float) -> None:
    """Swap to a newer index version when `python -m knowledge_base build` makes one current."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(holder.refresh)
        except Exception:  # keep serving the version in use
            log.exception("knowledge base refresh failed")


def _include_routers(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        return {"status": "ok"}


SWAGGER_OAUTH2_REDIRECT = ("<!doctype html>\n<html lang=\"en-US\">\n<body>\n"
                           "<script src=\"{root}/static/vendor/swagger-ui-oauth2-redirect.js\"></script>\n"
                           "</body>\n</html>\n")


def _add_api_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc (ReDoc) with their files from /static/vendor/, never a CDN.

    Public, as FastAPI's own pages and /openapi.json are. Swagger UI is started by
    static/api-docs.js, not by the inline script FastAPI writes (the CSP allows none); the
    OAuth2 redirect page loads Swagger UI's own oauth2-redirect script the same way.
    """
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    no_cache = {"Cache-Control": "no-cache"}

    # The pages read the app from the request, not from this closure: FastAPI caches every endpoint
    # function for good (fastapi.dependencies.models), and a closure over `app` kept every app a test
    # process ever built alive (several GB by the end of the suite).
    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return templates.TemplateResponse(request, "swagger_ui.html", {
            "title": f"{request.app.title} - Swagger UI", "root": root,
            "asset_version": int((STATIC_DIR / "api-docs.js").stat().st_mtime),
            "openapi_url": root + request.app.openapi_url, "oauth2_redirect_url": root + "/docs/oauth2-redirect",
        }, headers=no_cache)

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(SWAGGER_OAUTH2_REDIRECT.format(root=root), headers=no_cache)

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(openapi_url=root + request.app.openapi_url, title=f"{request.app.title} - ReDoc",
                              redoc_js_url=root + "/static/vendor/redoc.standalone.js",
                              redoc_favicon_url=root + "/static/vendor/swagger-ui-favicon-32x32.png",
                              with_google_fonts=False)
        # the page's own policy (the middleware keeps it): ReDoc's search worker, see api.core.headers
        page.headers["Content-Security-Policy"] = REDOC_CONTENT_SECURITY_POLICY
        page.headers.update(no_cache)
        return page


def _add_error_handlers(app: FastAPI) -> None:
    install_error_handler(app)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": {
            "code": "validation_error", "message": "请求参数不正确", "errors": errors}})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, dict) else {"code": "http_error", "message": str(exc.detail)}
        return JSONResponse(status_code=exc.status_code, content={"detail": detail},
                            headers=getattr(exc, "headers", None))

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database went away (a refused or dropped connection, no pooled connection in time): a
        # 503 the caller can retry, not a 500. The pool pings connections before use, so requests
        # succeed again as soon as the database is back, without restarting the API.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        error = DatabaseUnavailable()
        return JSONResponse(status_code=error.status, content={"detail": error.detail()}, headers=error.headers)

    for failure in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(failure, database_unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": {
            "code": "internal_error", "message": "服务暂时出现问题，请稍后再试"}})

