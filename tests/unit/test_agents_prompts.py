"""The prompts of the conversation strategies and the rule that keeps a turn in context."""

from __future__ import annotations

import math

import pytest
from autogen_agentchat.messages import TextMessage
from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage, SystemMessage, UserMessage
from autogen_ext.models.replay import ReplayChatCompletionClient

from conclave.agents.tokens import chars_for_tokens, estimate_tokens
from conclave.leader.conversation import prompts
from conclave.leader.conversation.participant import ConclaveParticipant
from conclave.leader.conversation.prompts import TRUNCATION_MARKER, Shown, truncate

QUESTION = [SystemMessage(content="Be brief."), UserMessage(content="What is 2+2?", source="user")]


def test_short_text_is_kept_whole():
    assert truncate("  Four.  ", 50) == "Four."


def test_long_text_is_cut_at_the_last_sentence_end_with_the_marker():
    text = "First sentence here. Second sentence is here. Third one runs on and on."
    out = truncate(text, 60)
    assert out == "First sentence here. Second sentence is here." + TRUNCATION_MARKER
    assert len(out) <= 60


def test_without_a_late_sentence_end_the_cut_is_at_a_word_boundary():
    text = "one two three four five six seven eight nine ten eleven twelve"
    out = truncate(text, 40)
    assert out.endswith(TRUNCATION_MARKER) and len(out) <= 40
    assert out.removesuffix(TRUNCATION_MARKER) == "one two three four five"


def test_a_sentence_end_early_in_the_budget_is_not_used():
    text = "Yes. " + "word " * 40
    out = truncate(text, 60).removesuffix(TRUNCATION_MARKER)
    assert len(out) > 30 and out.startswith("Yes. word")


def test_text_without_spaces_is_cut_mid_word():
    out = truncate("x" * 100, 30)
    assert out == "x" * (30 - len(TRUNCATION_MARKER)) + TRUNCATION_MARKER


def test_no_room_leaves_only_the_marker():
    assert truncate("a long answer " * 10, 3) == TRUNCATION_MARKER.strip()


@pytest.mark.parametrize("limit", [20, 37, 64, 100, 333])
def test_a_cut_never_exceeds_its_budget(limit):
    text = "The answer, after some thought, is 4. " * 30 + "Answer: 4"
    assert len(truncate(text, limit)) <= limit


def test_the_budget_is_the_free_context_split_evenly():
    budget = prompts.answer_budget(context_size=1024, max_tokens=48, frame_tokens=100, answers=3)
    assert budget == (1024 - 48 - 100 - prompts.SAFETY_MARGIN) // 3


def test_too_little_room_shows_no_answers():
    assert prompts.answer_budget(context_size=200, max_tokens=150, frame_tokens=30, answers=3) == 0
    assert prompts.answer_budget(context_size=200, max_tokens=10, frame_tokens=10, answers=0) == 0


def test_critique_shows_own_answer_as_the_assistant_turn_and_lists_the_others():
    messages = prompts.critique_messages(
        QUESTION, "I think 5.", [Shown("skeptic", "It is 4."), Shown("checker", "4")]
    )
    assert messages[:2] == QUESTION
    assert isinstance(messages[2], AssistantMessage) and messages[2].content == "I think 5."
    last = messages[3]
    assert isinstance(last, UserMessage)
    # The others' answers, without their names (small models copy names into answers),
    # then the question again: small models answer the last question they read.
    assert last.content == (
        "Other participants answered:\n- It is 4.\n- 4\n\nSome of these may be wrong. What is 2+2?"
    )
    assert "skeptic" not in last.content


def test_without_an_own_answer_the_critique_joins_the_question_turn():
    messages = prompts.critique_messages(QUESTION, None, [Shown("skeptic", "4")])
    assert len(messages) == 2
    assert messages[1].content == (
        "What is 2+2?\n\nOther participants answered:\n- 4\n\nSome of these may be wrong. "
        "What is 2+2?"
    )


def test_aggregation_lists_every_proposal_after_the_question():
    messages = prompts.aggregate_messages(QUESTION, [Shown("a", "4"), Shown("b", "5")])
    assert len(messages) == 2
    content = messages[1].content
    assert content == (
        "What is 2+2?\n\nParticipants answered:\n- 4\n- 5\n\nSome of these may be wrong. "
        "What is 2+2?"
    )


def test_the_frame_has_every_answer_empty():
    messages = prompts.critique_messages(
        QUESTION, "long " * 50, [Shown("b", "x" * 500)], prompts.blank
    )
    assert messages[2].content == ""
    assert "x" not in messages[3].content and "answered:\n- \n\n" in messages[3].content


def test_cutter_gives_each_answer_its_safe_character_share():
    cut = prompts.cutter(10)
    assert len(cut("word " * 100)) <= chars_for_tokens(10)


def test_estimates_are_documented_numbers():
    assert estimate_tokens(["abcd" * 10]) == 10 + 4 + 3
    assert chars_for_tokens(-5) == 0


class CharCounting(ReplayChatCompletionClient):
    """Counts a token per 3 characters of content (the worst case the cut rule allows)
    and records the prompt of every streamed call."""

    def __init__(self, replies):
        super().__init__(replies)
        self.prompts = []

    def count_tokens(self, messages, *, tools=()):
        return sum(math.ceil(len(m.content) / 3) + 4 for m in messages) + 3

    def create_stream(self, messages, **kwargs):
        self.prompts.append(list(messages))
        return super().create_stream(messages, **kwargs)


async def test_a_critique_prompt_with_long_answers_fits_the_context_window():
    context, max_tokens = 400, 48
    long = "This is a long explanation. " * 200
    client = CharCounting([long, "Answer: 4"])
    agent = ConclaveParticipant(
        "a", client, conversation=QUESTION, context_size=context, max_tokens=max_tokens
    )
    await agent.on_messages([], CancellationToken())
    others = [
        TextMessage(content=long, source=name, metadata={"turn": "0", "ok": "1"})
        for name in ("b", "c")
    ]
    await agent.on_messages(others, CancellationToken())
    prompt = client.prompts[1]
    assert client.count_tokens(prompt) + max_tokens <= context
    assert TRUNCATION_MARKER in prompt[-2].content  # the own answer is cut like the others
    assert prompt[-1].content.count(TRUNCATION_MARKER) == 2
