"""Starts the whole stack on free ports: the real Rasa server, action server and API.

Used by the e2e tests and by bench/chat_latency.py. Rasa runs from .venv-bot with the model
`make train` built, the repository's bot/endpoints.yml and bot/credentials.yml, bound to 127.0.0.1
without its HTTP API, and keeps its trackers in a SQLite file beside the API's database (as `make
demo` does); the action server (`python -m actions.server`) from this interpreter's venv; the API
in-process with its own freshly seeded SQLite database. The secrets between them are test values
with the names `make demo` and docker compose use (RASA_TOKEN, ACTION_SERVER_TOKEN).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.settings import Settings
from tests.conftest import TEST_TOKEN, free_port, seed_database, start_api

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "bot" / "models" / "zhidian.tar.gz"
ENDPOINTS = ROOT / "bot" / "endpoints.yml"  # actions with their token, SQL tracker store
CREDENTIALS = ROOT / "bot" / "credentials.yml"  # the gateway channel (bot/channels.py) only
RASA = ROOT / ".venv-bot" / "bin" / "rasa"
RASA_TOKEN = "test-rasa-token-0123456789abcdefghijkl"
ACTION_SERVER_TOKEN = "test-action-server-token-0123456789abcd"


class Server:
    """One server process of the stack; restart() runs the same command again (same port, same
    stores), as a supervisor would after a crash."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, ready_url: str, seconds: float):
        self.command, self.env, self.log, self.ready_url, self.seconds = command, env, log, ready_url, seconds
        self.process: subprocess.Popen | None = None

    def launch(self) -> None:
        # run from ROOT: Rasa puts its working directory on sys.path, so bot.channels imports
        with self.log.open("a") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        _wait_until(self.ready_url, self.process, self.log, self.seconds)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Stack:
    """Handles on a running stack, with a helper to talk through the gateway."""

    def __init__(self, api_url: str, rasa: Server, rasa_url: str, actions_url: str, settings: Settings,
                 tracker_db: Path):
        self.api_url, self.rasa_url, self.actions_url, self.settings = api_url, rasa_url, actions_url, settings
        self.rasa, self.tracker_db = rasa, tracker_db
        self.auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
        self.rasa_auth = {"Authorization": f"Bearer {RASA_TOKEN}"}  # what the gateway sends to Rasa
        self.actions_auth = {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}"}  # what Rasa sends to actions
        self.http = httpx.Client(base_url=api_url, timeout=30)

    def say(self, sender_id: str, text: str) -> list[dict]:
        """One customer turn through the gateway, sent as a channel adapter sends it (service token),
        so a test names its own conversation; returns the bot's messages. (Web chats opened by the
        page, with an issued id and secret, are what the conversation set drives.)"""
        response = self.http.post("/api/chat/messages", json={"sender_id": sender_id, "text": text},
                                  headers=self.auth)
        response.raise_for_status()
        body = response.json()
        assert body["handled_by"] == "bot", body
        return body["messages"]

    def restart_rasa(self) -> None:
        """Stop Rasa and start it again on the same port with the same tracker store."""
        self.rasa.restart()


def _wait_until(url: str, process: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {seconds}s:\n{log.read_text()[-3000:]}")


@contextmanager
def running_stack(workdir: Path, *, customers: int | None = None, kb_dir: Path | None = None, **settings_overrides):
    """Seed a database in `workdir`, start API, action server and Rasa; stop them afterwards.

    kb_dir: a built knowledge base for the API (none: knowledge questions get the fallback).
    settings_overrides: more API settings (e.g. Twilio pointed at a fake).
    """
    if not MODEL.exists():
        raise RuntimeError(f"no trained model at {MODEL}: run `make train` (make test does)")
    db_url = f"sqlite:///{workdir / 'stack.db'}"
    seed_database(db_url, **({"customers": customers} if customers else {}))
    rasa_port, actions_port = free_port(), free_port()
    settings = Settings(database_url=db_url, service_token=TEST_TOKEN, rasa_token=RASA_TOKEN,
                        rasa_url=f"http://127.0.0.1:{rasa_port}", rasa_timeout_seconds=10,
                        kb_dir=kb_dir or workdir / "no-kb",
                        **{"forecast_jobs": False, "proactive_jobs": False,  # keep the cores for Rasa; the
                           **settings_overrides})  # proactive pass is tested through the intake and the flow
    api, running = start_api(settings)
    settings.public_base_url = running.url  # Twilio's webhooks are signed for the URL they reach

    tracker_db = workdir / "rasa-trackers.db"  # beside the API's database, as in make demo
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZHIDIAN_API_URL": running.url,
           "ZHIDIAN_SERVICE_TOKEN": TEST_TOKEN, "RASA_TOKEN": RASA_TOKEN,
           "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
           "ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook",
           "RASA_TRACKER_STORE_URL": f"sqlite:///{tracker_db}"}
    env.pop("DATABASE_URL", None)
    actions_url = f"http://127.0.0.1:{actions_port}"
    actions = Server([sys.executable, "-m", "actions.server", "--host", "127.0.0.1", "--port", str(actions_port)],
                     env, workdir / "actions.log", f"{actions_url}/health", 60)
    rasa = Server([str(RASA), "run", "--interface", "127.0.0.1", "--port", str(rasa_port), "--model", str(MODEL),
                   "--endpoints", str(ENDPOINTS), "--credentials", str(CREDENTIALS)],
                  env, workdir / "rasa.log", f"{settings.rasa_url}/webhooks/gateway/", 300)
    try:
        for server in (actions, rasa):
            server.launch()
        for server in (actions, rasa):
            server.wait_ready()
        yield Stack(running.url, rasa, settings.rasa_url, actions_url, settings, tracker_db)
    finally:
        rasa.stop()
        actions.stop()
        api.stop()
