#!/usr/bin/env bash
# Starts Rasa, the action server and the API together; Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
port=${API_PORT:-8000}
cat <<MSG

  智电 Zhidian is starting (Rasa takes about 20 s to load its model):
    web chat (客户在线客服)   http://127.0.0.1:${port}/
    API docs (OpenAPI)        http://127.0.0.1:${port}/docs
    tickets                   http://127.0.0.1:${port}/api/tickets  (Authorization: Bearer \${ZHIDIAN_SERVICE_TOKEN:-dev-service-token})
    Rasa server               http://127.0.0.1:${RASA_PORT:-5005}/
    action server             http://127.0.0.1:${ACTIONS_PORT:-5055}/health
  Demo customers: .venv/bin/python -m api.demo accounts
  Ctrl-C stops everything.

MSG
exec .venv/bin/honcho start -f Procfile
