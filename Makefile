# Zhidian (智电): `make demo` runs everything on one machine, `make test` runs every test.
SHELL := /bin/bash
PY := .venv/bin/python
BOT_PY := .venv-bot/bin/python
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install system chromium db train kb demo test bench crossval lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install:  ## create .venv (API, actions, KB, tests) and .venv-bot (Rasa), reused when unchanged
	@scripts/install.sh

system:  ## Debian packages the tests use: Chromium and a Chinese font (browser tests), nginx (scale-out test)
	@(test -x /usr/bin/chromium && fc-list :lang=zh | grep -q . && test -x /usr/sbin/nginx) || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei \
	  nginx-light >/dev/null)

chromium: system

db: install  ## migrate the database and seed the demo (refresh the live situations if seeded)
	@$(PY) -m api migrate
	@$(PY) -m api.demo seed --if-missing

train: install  ## train the Rasa model when its inputs changed
	@scripts/train_bot.sh

kb: install  ## train the Chinese encoder if the articles changed, build the knowledge-base index
	@scripts/build_kb.sh

demo: install db train kb  ## install, seed, train, build the KB, then start Rasa, actions and the API (Ctrl-C stops)
	@scripts/demo.sh

test: install train system  ## run the whole test suite (PostgreSQL too when DATABASE_URL is set)
	@scripts/test.sh

bench: install train kb  ## run the benchmarks, results in bench/results/
	@$(PY) bench/chat_latency.py
	@$(PY) bench/kb_search.py
	@$(PY) bench/kb_quality.py
	@$(PY) bench/dispatch.py
	@$(PY) bench/forecasting.py
	@$(PY) bench/analytics.py
	@$(PY) bench/business_quality.py

crossval: install  ## intent cross-validation report into bot/reports/
	@scripts/nlu_crossval.sh

lint: install  ## ruff over the Python code
	@.venv/bin/ruff check api actions knowledge_base tests bench scripts --select E9,F

clean:  ## remove the virtualenvs, trained models and local data
	rm -rf .venv .venv-bot bot/models var
