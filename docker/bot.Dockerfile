FROM python:3.11-slim
WORKDIR /app
COPY requirements/bot.txt requirements/bot.txt
RUN python -m venv .venv-bot && .venv-bot/bin/pip install --no-cache-dir --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2 \
 && .venv-bot/bin/pip install --no-cache-dir -r requirements/bot.txt
COPY bot bot
COPY nlu_data nlu_data
COPY docker/endpoints.yml docker/endpoints.yml
RUN TF_CPP_MIN_LOG_LEVEL=3 .venv-bot/bin/rasa train --config bot/config.yml --domain bot/domain --data nlu_data bot/data --out bot/models --fixed-model-name zhidian
