"""The round workload both servers get: N voices answer one question, then each critiques
with the prompt Conclave's leader builds (prompts.critique_messages), as plain chat
messages, so the agent and llama-server receive exactly the same turns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from autogen_core.models import LLMMessage, UserMessage

from conclave.agents.messages import to_chat_messages
from conclave.leader.conversation.prompts import Shown, critique_messages
from conclave.leader.personas import get_persona
from conclave.services.engine.chat_format import (
    ChatFormat,
    ChatFormatChoice,
    FormattedPrompt,
    choose_chat_format,
)
from conclave.services.engine.llama_model import identify
from conclave.services.engine.types import ChatMessage, Demonstration
from conclave.services.model_source import resolve_model
from conclave.services.settings import AgentSettings

Chat = tuple[tuple[str, str], ...]  # (role, content) turns

# The personas of bench/strategies.py: three distinct system texts make three distinct
# greedy answers, as three voices of a real round would give.
VOICES = ("solver", "skeptic", "fact-checker")
ANSWER_HINT = " Answer with a number."
# Short questions with one numeric answer, as bench/strategies.py asks.
QUESTIONS = (
    "What is 12 + 30?",
    "What is 7 times 8?",
    "How many legs does a spider have?",
    "What is 100 minus 37?",
    "How many days are in a week?",
    "What is half of 50?",
    "How many sides does a hexagon have?",
    "What is 9 squared?",
)


@dataclass(frozen=True, slots=True)
class Voice:
    name: str
    system_prompt: str


def voices(names: Sequence[str] = VOICES) -> tuple[Voice, ...]:
    return tuple(Voice(n, get_persona(n).system_prompt) for n in names)


def conversation(question: str) -> list[LLMMessage]:
    return [UserMessage(content=question + ANSWER_HINT, source="user")]


def _chat(messages: Sequence[LLMMessage], voice: Voice) -> Chat:
    # The leader's own conversion: the persona opens the (single) system text.
    return tuple(
        (m.role, m.content) for m in to_chat_messages(messages, system_prompt=voice.system_prompt)
    )


def first_turn(question: str, voice: Voice) -> Chat:
    return _chat(conversation(question), voice)


def critique_turn(question: str, team: Sequence[Voice], answers: Sequence[str]) -> list[Chat]:
    """Each voice's critique prompt: its own answer as its assistant turn, the others'
    answers listed in a user turn (the leader's `parallel` strategy, one critique turn)."""
    if len(team) != len(answers):
        raise ValueError(f"{len(team)} voices but {len(answers)} answers")
    turns = []
    for i, voice in enumerate(team):
        others = [
            Shown(v.name, a) for j, (v, a) in enumerate(zip(team, answers, strict=True)) if j != i
        ]
        turns.append(_chat(critique_messages(conversation(question), answers[i], others), voice))
    return turns


def as_dicts(chat: Chat) -> list[dict[str, str]]:
    """OpenAI-style messages for llama-server's /v1/chat/completions."""
    return [{"role": role, "content": content} for role, content in chat]


def agent_chat_format(settings: AgentSettings) -> ChatFormatChoice:
    """The chat format the agent serves these settings' model with, chosen as the agent
    chooses it (conclave/services/engine/factory.py). llama-server gets the prompt this
    renders: a base model without a template (the bundled one) is served a transcript with
    demonstrations that llama-server cannot know of, and the same tokens on both sides are
    what makes the comparison fair."""
    model = resolve_model(settings.model, settings.model_cache_dir)
    return choose_chat_format(
        identify(model.path),
        override=settings.chat_format or model.preferred_chat_format,
        demonstrations=tuple(Demonstration(d.user, d.assistant) for d in settings.demonstrations),
        preamble=settings.chat_preamble,
    )


def render(chat_format: ChatFormat, chat: Chat) -> FormattedPrompt:
    return chat_format.format([ChatMessage(role, content) for role, content in chat])
