"""Marketing audit (营销稽查): metering anomaly rules, theft scoring, line loss, audit themes and tasks."""
