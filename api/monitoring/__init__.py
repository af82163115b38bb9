"""Proactive service (主动服务): what the meter data stream shows before customers call."""
