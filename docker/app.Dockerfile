FROM python:3.11-slim
WORKDIR /app
COPY requirements/app.txt requirements/app.txt
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements/app.txt
COPY api api
COPY actions actions
