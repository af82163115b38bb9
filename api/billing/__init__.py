"""Customer billing: bills and balances (service.py), tariffs (tariffs.py, tariffs.yml), this month's
bill forecast (bills.py), consumption analysis among peers (profiles.py), the 峰谷 comparison, tips
and customer segments (advice.py), and the chat's signed profile chart (charts.py).

The meters' readings belong to metering: api.flows.billing reads them and passes them in.
"""
