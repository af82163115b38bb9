#!/usr/bin/env bash
# Trains the Rasa model only when the NLU data, domain, stories or config changed.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONWARNINGS=ignore
inputs=$(find nlu_data bot/config.yml bot/domain bot/data -type f | sort)
hash=$(cat $inputs | sha256sum | cut -c1-16)
model=bot/models/zhidian.tar.gz
if [ -f "$model" ] && [ "$(cat bot/models/.inputs 2>/dev/null)" = "$hash" ]; then
  echo "==> Rasa model is up to date ($hash)"; exit 0
fi
echo "==> training the Rasa model (inputs $hash)"
mkdir -p bot/models
.venv-bot/bin/rasa train --config bot/config.yml --domain bot/domain --data nlu_data bot/data \
  --out bot/models --fixed-model-name zhidian --quiet
echo "$hash" > bot/models/.inputs
