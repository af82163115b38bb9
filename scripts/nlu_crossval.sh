#!/usr/bin/env bash
# Intent cross-validation of the NLU data with the bot's own pipeline; the report is committed
# under bot/reports/ (per-intent precision, recall, F1). About 3 trainings: minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONWARNINGS=ignore
folds=${FOLDS:-3}
out=var/nlu-crossval
rm -rf "$out"
.venv-bot/bin/rasa test nlu --nlu nlu_data --config bot/config.yml --domain bot/domain \
  --cross-validation --folds "$folds" --out "$out" --no-plot
mkdir -p bot/reports
cp "$out/intent_report.json" bot/reports/intent_crossval_report.json
.venv/bin/python scripts/summarize_intent_report.py bot/reports/intent_crossval_report.json "$folds" \
  > bot/reports/intent_crossval.md
cat bot/reports/intent_crossval.md
