"""Zhidian custom actions (rasa_sdk). Run: python -m rasa_sdk --actions actions

Actions are thin: they collect slots, call the API through ``actions.client`` and word the
answer in Chinese. Importing the package builds nothing (clients are created per call).
"""
from actions import (  # noqa: F401
    applications,
    billing,
    charging,
    fallback,
    faults,
    handoff,
    identity,
    knowledge,
    outages,
    session,
    theft,
    tickets,
)
