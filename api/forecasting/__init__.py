"""Load forecasting (负荷预测): customers, transformer areas, feeders and the whole system.

features.py builds the inputs, forecasters.py holds the three models, backtest.py scores them,
service.py serves and caches forecasts and warns of overloads; the load series and weather come
from metering through api.flows.load_forecasting, and api.flows.forecast_jobs refreshes them
nightly. `python -m api.forecasting backtest` evaluates the models on any CSV.
"""
