"""Transitional: the nightly forecast job crosses domains and lives in api.flows.forecast_jobs.

Kept only while api/main.py and api/__main__.py still import it from here; delete this file once
they import `run_forecast_jobs` from api.flows.forecast_jobs.
"""
from api.flows.forecast_jobs import run_forecast_jobs  # noqa: F401
