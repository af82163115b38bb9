FROM python:3.11-slim
WORKDIR /app
COPY requirements/app.txt requirements/app.txt
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements/app.txt
COPY api api
COPY actions actions
COPY knowledge_base knowledge_base
COPY nlu_data nlu_data
COPY scripts scripts
# The image carries a built knowledge base (KB_DIR=/app/var/kb); mount a volume over it and run
# `python -m knowledge_base build` in a worker to update it without rebuilding the image.
RUN scripts/build_kb.sh
