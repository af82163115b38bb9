#!/usr/bin/env bash
# Creates the two virtualenvs; each is reused while its requirements file is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

app_stamp=".venv/.installed-$(stamp requirements/app.txt)"
if [ ! -f "$app_stamp" ]; then
  echo "==> installing .venv (API, actions, knowledge base, tests)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip wheel
  .venv/bin/pip install -q -r requirements/app.txt
  rm -f .venv/.installed-*; touch "$app_stamp"
fi

bot_stamp=".venv-bot/.installed-$(stamp requirements/bot.txt)"
if [ ! -f "$bot_stamp" ]; then
  echo "==> installing .venv-bot (Rasa 3.6 on Python 3.11; about 5 minutes)"
  [ -x .venv-bot/bin/python ] || "$PYTHON" -m venv .venv-bot
  .venv-bot/bin/pip install -q --upgrade pip wheel
  # rasa 3.6 declares Python < 3.11 but runs on 3.11; its dependencies come pinned from bot.txt
  .venv-bot/bin/pip install -q --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
  .venv-bot/bin/pip install -q -r requirements/bot.txt
  rm -f .venv-bot/.installed-*; touch "$bot_stamp"
fi
