"""The production layout on one machine: nginx (docker/nginx.conf) in front of several API processes,
each with its own Rasa process, every Rasa keeping trackers and locks in one Redis (as
docker/endpoints.yml does), one action server, PostgreSQL for everything else.

Used by tests/test_scale_out.py and bench/load.py. Needs PostgreSQL (DATABASE_URL), Redis (REDIS_URL),
nginx (`make system`) and the trained model. Rasa's keys get a prefix of their own per run, so runs
never share trackers.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import redis as redis_lib

from tests.conftest import TEST_TOKEN, free_port, seed_database
from tests.resilience.processes import ApiProcess
from tests.stack import ACTION_SERVER_TOKEN, CREDENTIALS, ENDPOINTS, MODEL, RASA, RASA_TOKEN, ROOT, Server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_CONF = ROOT / "docker" / "nginx.conf"


def missing() -> str | None:
    """Why the layout can't run here (None when it can)."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return "needs PostgreSQL (DATABASE_URL): API processes share one database"
    if not os.environ.get("REDIS_URL"):
        return "needs Redis (REDIS_URL): Rasa's trackers and locks and the live bus"
    if not Path(NGINX).exists():
        return "needs nginx (make system installs Debian's nginx-light)"
    if not MODEL.exists():
        return f"needs the trained model at {MODEL} (make train)"
    return None


def rasa_endpoints(workdir: Path, redis_url: str, actions_url: str, prefix: str) -> Path:
    """docker/endpoints.yml with this machine's Redis and action server."""
    redis = urlparse(redis_url)
    store = (f"  type: redis\n  url: {redis.hostname}\n  port: {redis.port or 6379}\n"
             f"{'  password: ' + redis.password + chr(10) if redis.password else ''}  key_prefix: {prefix}\n")
    path = workdir / "endpoints.yml"
    path.write_text(f"action_endpoint:\n  url: {actions_url}/webhook\n  headers:\n"
                    f"    Authorization: Bearer ${{ACTION_SERVER_TOKEN}}\n"
                    f"tracker_store:\n{store}  db: 2\nlock_store:\n{store}  db: 3\n", encoding="utf-8")
    return path


def nginx_conf(workdir: Path, port: int, api_ports: list[int]) -> Path:
    """docker/nginx.conf with local upstreams and port, its files in `workdir`, and a header naming the
    replica that answered (X-Upstream) so a test can see the requests spread."""
    conf = NGINX_CONF.read_text(encoding="utf-8")
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n" for p in api_ports)
    conf = re.sub(r"(upstream zhidian_api \{\n)(?:    server .*\n)+", lambda m: m.group(1) + servers, conf)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("worker_processes auto;", f"worker_processes 1;\ndaemon off;\npid {workdir}/nginx.pid;\n"
                                                   f"error_log {workdir}/nginx-error.log warn;")
    temp = workdir / "nginx-temp"
    temp.mkdir(exist_ok=True)
    conf = conf.replace("http {\n", "http {\n" + "".join(
        f"  {kind}_temp_path {temp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  access_log {workdir}/nginx-access.log;\n  add_header X-Upstream $upstream_addr always;\n", 1)
    path = workdir / "nginx.conf"
    path.write_text(conf, encoding="utf-8")
    return path


@dataclass
class ScaledStack:
    url: str  # nginx
    apis: list[ApiProcess]
    rasa_urls: list[str]
    database_url: str
    redis_url: str | None

    def say(self, client: httpx.Client, conversation_id: str, secret: str, text: str) -> tuple[list[dict], str]:
        """A web-chat turn through nginx: (the bot's messages, the API replica that answered)."""
        response = client.post(f"{self.url}/api/chat/messages", headers={"X-Chat-Secret": secret},
                               json={"sender_id": conversation_id, "text": text}, timeout=60)
        response.raise_for_status()
        return response.json()["messages"], response.headers.get("X-Upstream", "")


@contextmanager
def scaled_stack(workdir: Path, *, database_url: str, redis_url: str | None, apis: int = 2, rasas: int = 2,
                 customers: int = 60, kb_dir: Path | None = None):
    """Seed `database_url`, start the action server, `rasas` Rasa processes and `apis` API processes (API i
    talks to Rasa i mod rasas), and nginx in front of the APIs; stop them all afterwards.

    Without `redis_url` it is the embedded layout of `make demo` (one API, one Rasa keeping trackers in a
    SQLite file, no Redis), still behind nginx. kb_dir: a built knowledge base for the APIs."""
    if redis_url is None and (apis, rasas) != (1, 1):
        raise ValueError("without Redis only one API and one Rasa keep a conversation consistent")
    seed_database(database_url, customers=customers)
    actions_port, nginx_port = free_port(), free_port()
    actions_url, url = f"http://127.0.0.1:{actions_port}", f"http://127.0.0.1:{nginx_port}"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TOKEN": RASA_TOKEN,
           "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN, "ZHIDIAN_SERVICE_TOKEN": TEST_TOKEN, "ZHIDIAN_API_URL": url}
    env.pop("DATABASE_URL", None)
    prefix = f"zhidian-{uuid.uuid4().hex[:8]}"
    if redis_url:
        endpoints = rasa_endpoints(workdir, redis_url, actions_url, prefix=prefix)
    else:  # bot/endpoints.yml, as make demo runs it
        endpoints = ENDPOINTS
        env.update({"ACTION_SERVER_URL": f"{actions_url}/webhook",
                    "RASA_TRACKER_STORE_URL": f"sqlite:///{workdir / 'rasa-trackers.db'}"})
    servers = [Server([sys.executable, "-m", "actions.server", "--host", "127.0.0.1", "--port", str(actions_port)],
                      env, workdir / "actions.log", f"{actions_url}/health", 60)]
    rasa_urls = []
    for i in range(rasas):
        port = free_port()
        rasa_urls.append(f"http://127.0.0.1:{port}")
        servers.append(Server([str(RASA), "run", "--interface", "127.0.0.1", "--port", str(port), "--model",
                               str(MODEL), "--endpoints", str(endpoints), "--credentials", str(CREDENTIALS)],
                              env, workdir / f"rasa-{i}.log", f"{rasa_urls[-1]}/webhooks/gateway/", 300))
    api_processes = [ApiProcess(workdir, database_url=database_url, rasa_url=rasa_urls[i % rasas],
                                redis_url=redis_url, rasa_timeout_seconds="10", proactive_jobs="false",
                                public_base_url=url, agent_office_hours="00:00-23:59:59",
                                **({"kb_dir": str(kb_dir)} if kb_dir else {}))
                     for i in range(apis)]
    with ExitStack() as stop:
        if redis_url:
            stop.callback(_forget_trackers, redis_url, prefix)
        for server in servers:
            server.launch()
            stop.callback(server.stop)
        for server in servers:
            server.wait_ready()
        for api in api_processes:
            api.start()
            stop.callback(api.stop)
        log = stop.enter_context((workdir / "nginx.log").open("a"))
        conf = nginx_conf(workdir, nginx_port, [api.port for api in api_processes])
        nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(workdir)], stdout=log, stderr=subprocess.STDOUT)
        stop.callback(_stop_nginx, nginx)
        _wait_healthy(f"{url}/healthz", nginx, workdir / "nginx-error.log")
        yield ScaledStack(url=url, apis=api_processes, rasa_urls=rasa_urls, database_url=database_url,
                          redis_url=redis_url)


def _forget_trackers(redis_url: str, prefix: str) -> None:
    """Rasa's keys of this run (trackers, locks) out of the shared Redis."""
    where = urlparse(redis_url)
    for db in (2, 3):
        client = redis_lib.Redis(host=where.hostname, port=where.port or 6379, password=where.password, db=db)
        keys = list(client.scan_iter(f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _stop_nginx(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{log.read_text() if log.exists() else ''}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nginx did not answer in {seconds}s")
