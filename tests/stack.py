"""Starts the whole stack on free ports: the real Rasa server, action server and API.

Used by the e2e tests and by bench/chat_latency.py. Rasa runs from .venv-bot with the model
`make train` built; the action server from this interpreter's venv; the API in-process with its
own freshly seeded SQLite database.
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
CREDENTIALS = ROOT / "bot" / "credentials.yml"  # the gateway channel (bot/channels.py) and REST
RASA = ROOT / ".venv-bot" / "bin" / "rasa"


class Stack:
    """Handles on a running stack, with a helper to talk through the gateway."""

    def __init__(self, api_url: str, rasa_url: str, actions_url: str, settings: Settings):
        self.api_url, self.rasa_url, self.actions_url, self.settings = api_url, rasa_url, actions_url, settings
        self.auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
        self.http = httpx.Client(base_url=api_url, timeout=30)

    def say(self, sender_id: str, text: str) -> list[dict]:
        """One customer turn through the gateway; returns the bot's messages."""
        response = self.http.post("/api/chat/messages", json={"sender_id": sender_id, "text": text})
        response.raise_for_status()
        body = response.json()
        assert body["handled_by"] == "bot", body
        return body["messages"]


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
    settings = Settings(database_url=db_url, service_token=TEST_TOKEN,
                        rasa_url=f"http://127.0.0.1:{rasa_port}", rasa_timeout_seconds=10,
                        kb_dir=kb_dir or workdir / "no-kb",
                        **{"forecast_jobs": False, **settings_overrides})  # keep the cores for Rasa
    api, running = start_api(settings)
    settings.public_base_url = running.url  # Twilio's webhooks are signed for the URL they reach

    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "ZHIDIAN_API_URL": running.url,
           "ZHIDIAN_SERVICE_TOKEN": TEST_TOKEN}
    env.pop("DATABASE_URL", None)
    actions_log, rasa_log = workdir / "actions.log", workdir / "rasa.log"
    actions = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)],
        cwd=ROOT, env=env, stdout=actions_log.open("w"), stderr=subprocess.STDOUT)
    # run from ROOT: Rasa puts its working directory on sys.path, so bot.channels imports
    rasa = subprocess.Popen(
        [str(RASA), "run", "--enable-api", "--model", str(MODEL), "--endpoints", str(endpoints),
         "--credentials", str(CREDENTIALS), "--port", str(rasa_port)],
        cwd=ROOT, env=env, stdout=rasa_log.open("w"), stderr=subprocess.STDOUT)
    try:
        _wait_until(f"http://127.0.0.1:{actions_port}/health", actions, actions_log, 60)
        _wait_until(f"http://127.0.0.1:{rasa_port}/status", rasa, rasa_log, 180)
        yield Stack(running.url, settings.rasa_url, f"http://127.0.0.1:{actions_port}", settings)
    finally:
        for process in (rasa, actions):
            process.terminate()
        for process in (rasa, actions):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        api.stop()
