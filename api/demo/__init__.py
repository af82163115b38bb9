"""Deterministic demo data: same seed and hour, same customers, meters, readings and live situations."""
