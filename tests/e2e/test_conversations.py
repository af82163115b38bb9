"""The conversation test set (issue 12) through the real Rasa, action server and API.

The conversations are data (tests/e2e/conversations/<area>.yml), written the way customers talk to
the 95598 web chat, each with its expected outcome; tests/e2e/conversations/runner.py plays and
judges them. The issue's goal: at least 95 % of them complete (right outcome, no loop, no lost
turn). bench/conversations.py plays the same set and writes the figures.
"""
from __future__ import annotations

import pytest

from tests.e2e.conversations import runner
from tests.e2e.conversations.runner import Conversation, Expect, Run, Turn, TurnRecord

pytestmark = pytest.mark.e2e


def test_the_set_has_60_conversations_over_every_area():
    conversations = runner.load()  # SetError on any malformed conversation
    assert len(conversations) >= runner.MIN_CONVERSATIONS
    per_area = {area: sum(1 for c in conversations if c.area == area) for area in runner.AREAS}
    assert min(per_area.values()) >= 5, per_area


def test_a_question_asked_four_times_is_a_loop_and_a_silent_turn_is_lost():
    asked = TurnRecord("对，就是这个地址", ["好的，换个地址。请告诉我停电的详细地址。"], [])
    silent = TurnRecord("!!!", [], [], lost="no reply")
    failures = Run.turn_failures([asked] * (runner.MAX_REPEATS + 1) + [silent])
    assert {kind for kind, _ in failures} == {"loop", "lost_turn"}
    assert Run.turn_failures([asked] * runner.MAX_REPEATS) == []


def test_a_conversation_that_misses_its_outcome_is_not_completed(stack):
    """The judge can fail: a greeting does not make the ticket, answer and handoff it expects."""
    expecting_too_much = Conversation(
        id="judge-fails", area="faults", why="", customer="household_outage", turns=(Turn("你好"),),
        expect=Expect(tickets=({"type": "故障报修", "diagnosis": "household_outage"},),
                      answers=(("kb:out-fault-report",),), handoff="request_human"))
    [result] = runner.play([expecting_too_much], api_url=stack.api_url, token=stack.settings.service_token,
                           database_url=stack.settings.database_url)
    assert not result.completed
    assert {kind for kind, _ in result.failures} == {"ticket", "answer", "handoff"}, result.failures


def test_at_least_95_percent_of_the_conversations_complete(stack):
    results = runner.play(runner.load(), api_url=stack.api_url, token=stack.settings.service_token,
                          database_url=stack.settings.database_url)
    figures = runner.figures(results)
    assert figures["completion_rate"] >= runner.GOAL, (
        f"{figures['completed']} of {figures['conversations']} conversations completed "
        f"({figures['completion_rate']:.0%}, goal {runner.GOAL:.0%}); failures by kind "
        f"{figures['failures_by_kind']}:\n{runner.failure_text(results)}")
