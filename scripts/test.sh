#!/usr/bin/env bash
# Runs the whole suite; pytest's "no tests collected" (exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3
.venv/bin/python -m pytest "$@"
code=$?
if [ "$code" -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit "$code"
