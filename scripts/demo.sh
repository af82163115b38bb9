#!/usr/bin/env bash
# Starts Rasa, the action server and the API together (Procfile); Ctrl-C stops all three.
# Demo mode: the secrets between the three default to the laptop values below (the API accepts
# them only with DEMO_MODE=true); set RASA_TOKEN, ACTION_SERVER_TOKEN, SERVICE_TOKEN and
# STAFF_SECRET in the environment to use your own. Rasa and the action server listen on 127.0.0.1
# only and refuse calls without their token; Rasa's HTTP API is off unless RASA_ENABLE_API=true
# (then it needs ?token=$RASA_TOKEN).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
export DEMO_MODE=true
port=${API_PORT:-8000} rasa_port=${RASA_PORT:-5005} actions_port=${ACTIONS_PORT:-5055}

# One name per secret everywhere (Procfile, docker-compose.yml, tests/stack.py, api/settings.py).
export RASA_TOKEN=${RASA_TOKEN:-dev-rasa-token}                              # API gateway -> Rasa
export ACTION_SERVER_TOKEN=${ACTION_SERVER_TOKEN:-dev-action-server-token}   # Rasa -> action server
export SERVICE_TOKEN=${SERVICE_TOKEN:-dev-service-token}                     # actions, tools -> API
export ZHIDIAN_SERVICE_TOKEN=${ZHIDIAN_SERVICE_TOKEN:-$SERVICE_TOKEN}        # the actions' name for it
export METERING_TOKEN=${METERING_TOKEN:-dev-metering-token}                  # metering system -> intake API
export RASA_URL=${RASA_URL:-http://127.0.0.1:${rasa_port}}
export ZHIDIAN_API_URL=${ZHIDIAN_API_URL:-http://127.0.0.1:${port}}
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:${actions_port}/webhook}
# Rasa's own HTTP API (trackers, models) only for debugging, and then only behind a token: the Procfile
# enables it exactly when RASA_API_TOKEN is set, never without --auth-token.
unset RASA_API_TOKEN
if [ "${RASA_ENABLE_API:-false}" = true ]; then
  export RASA_API_TOKEN=${RASA_TOKEN}
fi

# Rasa's trackers survive a restart: a SQLite file beside the API's database, or the PostgreSQL
# database of DATABASE_URL (Rasa's SQLAlchemy 1.4 speaks psycopg2).
db_url=${DATABASE_URL:-sqlite:///$PWD/var/zhidian.db}
case "$db_url" in
  sqlite:///*) tracker_url="sqlite:///$(dirname "${db_url#sqlite:///}")/rasa-trackers.db"
               trackers="${tracker_url#sqlite:///}" ;;
  postgres*://*) tracker_url="postgresql+psycopg2://${db_url#*://}"
                 trackers="the PostgreSQL database of DATABASE_URL (table events)" ;;
  *) echo "DATABASE_URL: only sqlite:/// and postgresql:// are supported" >&2; exit 1 ;;
esac
if [ -n "${RASA_TRACKER_STORE_URL:-}" ]; then trackers="RASA_TRACKER_STORE_URL"; fi
export RASA_TRACKER_STORE_URL=${RASA_TRACKER_STORE_URL:-$tracker_url}

cat <<MSG

  智电 Zhidian is starting (Rasa takes about 20 s to load its model):
    web chat (客户在线客服)   http://127.0.0.1:${port}/
    API docs (OpenAPI)        http://127.0.0.1:${port}/docs
    tickets                   http://127.0.0.1:${port}/api/tickets  (Authorization: Bearer \$SERVICE_TOKEN, demo: dev-service-token)
    Rasa (gateway channel)    http://127.0.0.1:${rasa_port}/webhooks/gateway/  (POST …/webhook needs Authorization: Bearer \$RASA_TOKEN)
    action server             http://127.0.0.1:${actions_port}/health  (POST /webhook needs Authorization: Bearer \$ACTION_SERVER_TOKEN)
    Rasa's conversations      ${trackers}
    OCPP 1.6-J chargers       ws://127.0.0.1:${port}/ocpp/{charge point id}  (30 simulated chargers GY-CP001…030 at 6 固原 stations)
    metering intake           http://127.0.0.1:${port}/api/metering/readings|events  (Authorization: Bearer \$METERING_TOKEN, demo: dev-metering-token)
  Demo customers: .venv/bin/python -m api.demo accounts
  Ctrl-C stops everything.

MSG
exec .venv/bin/honcho start -f Procfile
