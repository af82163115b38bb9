#!/usr/bin/env bash
# Trains the Chinese encoder when the articles changed, then builds the knowledge-base index
# (the build itself is incremental and a no-op when nothing changed). KB_DIR defaults to var/kb.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONWARNINGS=ignore
KB_DIR=${KB_DIR:-var/kb}
encoder="$KB_DIR/encoder-zh"
hash=$(find knowledge_base/docs knowledge_base/values knowledge_base/encoder.py knowledge_base/pairs.py \
         knowledge_base/chunking.py -type f | sort | xargs cat | sha256sum | cut -c1-16)
if [ -n "${EMBEDDING_MODEL:-}" ]; then
  echo "==> encoder: $EMBEDDING_MODEL (EMBEDDING_MODEL)"
elif [ -f "$encoder/modules.json" ] && [ "$(cat "$encoder/.inputs" 2>/dev/null)" = "$hash" ]; then
  echo "==> Chinese encoder is up to date ($hash)"
else
  echo "==> training the Chinese encoder (inputs $hash)"
  .venv/bin/python -m knowledge_base train-encoder --out "$encoder" >/dev/null
  echo "$hash" > "$encoder/.inputs"
fi
echo "==> building the knowledge-base index"
.venv/bin/python -m knowledge_base build | .venv/bin/python -c \
  'import json,sys; r=json.load(sys.stdin); print("    version %(version)s: %(articles)d articles, %(chunks)d chunks, %(embedded)d embedded, %(reused)d reused%(note)s" % {**r, "note": " (up to date)" if r["up_to_date"] else ""}); h=(r.get("calibration") or {}).get("held_out"); h and print("    held-out calibration questions: answers %.0f %% on its own, right %.0f %% of those; ECE %.3f" % (100*h["answered_share"], 100*h["precision_when_answered"], h["ece"]))'
