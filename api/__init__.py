"""Zhidian API: the gateway and the business services behind the assistant."""
