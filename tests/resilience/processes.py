"""Real processes the resilience tests (and bench/soak.py) kill and start again.

`ApiProcess`: the API under uvicorn as the Procfile starts it (`uvicorn api.main:create_app
--factory`), configured by environment only, with its in-process workers (outbox, ticket jobs).
`RedisServer`: a private `redis-server` on a free port, without persistence.
Both keep their port across restarts, as a supervisor restarting a crashed process would.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

from tests.conftest import TEST_STAFF_SECRET, TEST_TOKEN, free_port
from tests.stack import RASA_TOKEN

ROOT = Path(__file__).resolve().parents[2]


def rss_kib(pid: int) -> int | None:
    """Resident memory of a process in KiB (Linux /proc), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class ApiProcess:
    """The API as its own process on a fixed port; `kill()` is kill -9, `start()` runs it again."""

    def __init__(self, workdir: Path, *, database_url: str, rasa_url: str = "http://127.0.0.1:9",
                 redis_url: str | None = None, twilio=None, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"api-{self.port}.log"
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("DATABASE_URL", "REDIS_URL", "DEMO_MODE", "DEMO_LIVE")}
        self.env.update({
            "DATABASE_URL": database_url, "SERVICE_TOKEN": TEST_TOKEN, "STAFF_SECRET": TEST_STAFF_SECRET,
            "RASA_TOKEN": RASA_TOKEN, "RASA_URL": rasa_url,
            "RASA_TIMEOUT_SECONDS": "2.5", "KB_DIR": str(workdir / "no-kb"), "FORECAST_JOBS": "false",
            "BACKGROUND_WORKERS": "true", "PUBLIC_BASE_URL": self.url, "PYTHONUNBUFFERED": "1",
        })
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        if twilio is not None:
            self.env.update({"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
                             "TWILIO_FROM_NUMBER": "+8610695598", "TWILIO_BASE_URL": twilio.url})
        self.env.update({key.upper(): value for key, value in settings.items()})
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, seconds: float = 60) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(self.port), "--log-level", "warning"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not come up in {seconds}s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9: no shutdown, no lifespan exit, requests in flight cut off."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def rss_kib(self) -> int | None:
        return rss_kib(self.process.pid) if self.process is not None else None


class RedisServer:
    """A private redis-server (no RDB, no AOF) on a free port; `kill()` is kill -9."""

    BINARY = shutil.which("redis-server")

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def rss_kib(self) -> int | None:
        return rss_kib(self.process.pid) if self.process is not None else None
