"""Every knob of the API, read from the environment, with defaults that run on one laptop."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
MIN_SECRET_LENGTH = 32
# The laptop defaults of the secrets: accepted only in demo mode (make demo sets DEMO_MODE=true).
DEMO_SECRETS = {
    "service_token": "dev-service-token",
    "staff_secret": "dev-staff-secret-change-me-in-production-32b",
    "rasa_token": "dev-rasa-token",
    "metering_token": "dev-metering-token",
}


class Settings(BaseSettings):
    """Configuration; production switches by environment variables only."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(default=f"sqlite:///{ROOT / 'var' / 'zhidian.db'}")
    redis_url: str | None = None
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 2.5
    # Demo mode (make demo) accepts the laptop defaults of the secrets; anywhere else the API refuses
    # to start with a default or short secret (see weak_secrets).
    demo_mode: bool = False
    service_token: str = DEMO_SECRETS["service_token"]
    # Staff sign-in: the key that signs session tokens (set STAFF_SECRET in production), how long a
    # session lasts, and how many failed sign-ins per account (×4 per address) in the window.
    staff_secret: str = DEMO_SECRETS["staff_secret"]
    staff_session_minutes: int = 480
    login_max_failures: int = 5
    login_window_minutes: int = 15
    # Customer verification (last four digits of the mobile): wrong answers allowed per conversation
    # and per account (across conversations) in the window, then 429 until it passes.
    verify_max_failures: int = 5
    verify_max_failures_per_account: int = 10
    verify_max_failures_per_address: int = 20  # one web client's wrong answers across accounts
    verify_window_minutes: int = 60
    # Agent console: chats one agent holds at once (unless set per agent), and how long after the
    # console's last heartbeat an agent still counts as present for auto-assignment.
    agent_max_chats: int = 5
    agent_presence_seconds: int = 90
    agent_reply_minutes: int = 5  # a customer an agent holds unanswered this long goes back to the queue
    # When agents answer chats, Beijing time, every day ("HH:MM-HH:MM"); outside them a customer
    # asking for a person is told so and offered a call-back.
    agent_office_hours: str = "08:00-20:00"
    chat_reply_timeout_ms: int = 8000  # the chat page's "reply is late" notice
    demo_seed: int = 20261123
    demo_live: bool = False  # make demo: keep the demo's meters reporting every hour
    # SLA commitments per ticket type and area class are one table: api/tickets/sla.py DEFAULT_POLICIES.
    # Metering diagnosis thresholds.
    area_outage_share: float = 0.5
    low_voltage_volts: float = 198.0
    # Intake from the metering system (用电信息采集系统): its own credential, POST /api/metering/readings|events.
    metering_token: str = DEMO_SECRETS["metering_token"]
    # Proactive service (api/monitoring, api/flows/proactive.py): detection thresholds and what each
    # detection does. PROACTIVE_POLICIES overrides per kind as JSON, e.g.
    # {"household_outage": {"dispatch": "at_once"}, "imbalance": {"ticket_type": null}}.
    proactive_jobs: bool = True  # the every-minute pass (confirmations, clearing, planned-outage announcements)
    proactive_outage_window_minutes: int = Field(default=10, ge=1, le=120)
    proactive_outage_min_meters: int = Field(default=2, ge=1, le=1000)
    proactive_household_confirm_minutes: int = Field(default=10, ge=0, le=1440)
    proactive_policies: dict[str, dict] = {}
    outage_repair_minutes: int = Field(default=90, ge=0, le=1440)  # usual repair time after arrival, for the ETA
    # Dispatch, SLA and notifications. Background workers run in the API process unless turned off
    # (production runs them as their own processes; tests turn them off and drive them directly).
    background_workers: bool = True
    forecast_jobs: bool = True  # the nightly load forecasts (CPU-heavy at first start) among those workers
    audit_jobs: bool = True  # the nightly audit scan among those workers
    audit_scan_days: int = Field(default=30, ge=1, le=366)  # how far back the nightly scan's rules look
    audit_score_days: int = Field(default=365, ge=0, le=1100)  # daily energy the theft score reads (0: off)
    dispatch_offer_timeout_minutes: int = 10  # an offer nobody accepts goes to another crew
    supervisor_mobiles: list[str] = ["13700009901"]  # warned before and told at an SLA breach
    # Twilio: without an account SID and token, SMS wait in the outbox (visible to supervisors).
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str | None = None  # only for a local fake of Twilio's REST API in tests
    public_base_url: str = "http://127.0.0.1:8000"  # how Twilio reaches us: callbacks and signatures
    # WeChat official account (api/channels/wechat.py): without WECHAT_TOKEN the channel answers 404.
    # WECHAT_AES_KEY (43 characters) enables safe mode; WECHAT_API_BASE is only for a local fake in tests.
    wechat_token: str | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_aes_key: str | None = None
    wechat_api_base: str = "https://api.weixin.qq.com/cgi-bin/"
    # the official account's notice template (fields first, keyword1 服务类型, keyword2 通知时间, remark): notices a
    # customer-service message cannot carry (outside the 48-hour window) go as this template; unset: by SMS
    wechat_notice_template_id: str | None = None
    # Knowledge base: built indexes live in kb_dir (python -m knowledge_base build).
    kb_dir: Path = ROOT / "var" / "kb"
    kb_region: str = "nx-guyuan-demo"
    embedding_model: str = ""  # hub id or local directory; empty = the trained kb_dir/encoder-zh
    kb_answer_threshold: float | None = None  # None = the threshold the build calibrated
    kb_reload_seconds: float = 5.0  # how often the API looks for a newer index version
    # The secret the gateway sends to Rasa's gateway channel (bot/credentials.yml reads the same
    # RASA_TOKEN); the default "dev-rasa-token" is a demo secret, for make demo and tests only.
    rasa_token: str = DEMO_SECRETS["rasa_token"]


    def weak_secrets(self) -> list[str]:
        """Environment names of the secrets that are a laptop default or shorter than MIN_SECRET_LENGTH."""
        return [name.upper() for name, default in DEMO_SECRETS.items()
                if getattr(self, name) == default or len(getattr(self, name)) < MIN_SECRET_LENGTH]


class InsecureConfiguration(RuntimeError):
    """The API would start with secrets anyone can look up."""


def require_strong_secrets(settings: Settings) -> None:
    """Outside demo mode, refuse default or short secrets with a message saying what to set."""
    weak = [] if settings.demo_mode else settings.weak_secrets()
    if weak:
        raise InsecureConfiguration(
            f"refusing to start: {', '.join(weak)} must be set to a secret of at least {MIN_SECRET_LENGTH} "
            f"characters (not the demo default), e.g. the output of "
            f"`python -c 'import secrets; print(secrets.token_urlsafe(32))'`; "
            f"only `make demo` (DEMO_MODE=true) runs with the laptop defaults")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own Settings instead)."""
    return Settings()
