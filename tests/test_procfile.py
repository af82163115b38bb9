"""The Procfile (make demo) never starts Rasa's HTTP API without its auth token."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rasa_command(**env: str) -> list[str]:
    """The Procfile's rasa command as the shell expands it with `env`."""
    line = next(l for l in (ROOT / "Procfile").read_text().splitlines() if l.startswith("rasa:"))
    command = line.split(":", 1)[1].strip()
    expanded = subprocess.run(["sh", "-c", f"echo {command}"], env={"PATH": "/usr/bin:/bin", **env},
                              capture_output=True, text=True, check=True).stdout
    return expanded.split()


def test_rasa_api_is_off_unless_a_token_guards_it():
    plain = rasa_command()
    assert "--enable-api" not in plain and "--auth-token" not in plain
    assert rasa_command(RASA_ENABLE_API="true", RASA_API_ARGS="--enable-api") == plain  # old switches do nothing
    debug = rasa_command(RASA_API_TOKEN="debug-token-0123")
    assert debug[debug.index("--enable-api") + 1:debug.index("--enable-api") + 3] == ["--auth-token", "debug-token-0123"]
