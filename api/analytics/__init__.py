"""Supervisor analytics: ticket volume, SLA, durations, backlog, crews, bot containment, KB feedback."""
