#!/usr/bin/env bash
# The whole suite: import contracts, Rasa data validation and test stories, then pytest (unit, API,
# e2e, browser).
# pytest's "no tests collected" (exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
export TF_CPP_MIN_LOG_LEVEL=3
RASA="env PYTHONWARNINGS=ignore .venv-bot/bin/rasa"
BOT_ARGS=(--config bot/config.yml --domain bot/domain)

echo "==> import contracts (lint-imports: layers of DESIGN.md, domains independent)"
.venv/bin/lint-imports --no-cache || { echo "import contracts broken"; exit 1; }

echo "==> rasa data validate"
$RASA data validate "${BOT_ARGS[@]}" --data nlu_data bot/data --fail-on-warnings >var/rasa-validate.log 2>&1 \
  || { cat var/rasa-validate.log; echo "rasa data validate failed"; exit 1; }

echo "==> rasa test stories (bot/tests, --fail-on-prediction-errors)"
$RASA test core --model bot/models/zhidian.tar.gz --stories bot/tests --fail-on-prediction-errors \
  --out var/rasa-test-results >var/rasa-test.log 2>&1 \
  || { tail -60 var/rasa-test.log; cat var/rasa-test-results/failed_test_stories.yml 2>/dev/null; \
       echo "rasa test stories failed"; exit 1; }
grep -h "Correct:" var/rasa-test.log | tail -2 || true

echo "==> pytest"
.venv/bin/python -m pytest "$@"
code=$?
if [ "$code" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$code"
