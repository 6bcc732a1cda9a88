"""Every prompt of the conversation strategies, and the rule that keeps a turn in context.

Turn 0 of every strategy sends the round's conversation unchanged. Later turns add the
earlier answers (docs/strategies.md shows each prompt in full):

- critique (`parallel`, `round_robin`): the participant's own latest answer as its
  assistant turn, then a user turn listing the other participants' latest answers and
  asking the question again;
- aggregate (`moa`): one user turn listing every proposal and asking the question again.

New user text is merged into the conversation's last user turn when there is no
assistant turn in between, because some chat templates refuse two user turns in a row.

The context rule. The agent serves `context_size` tokens per request, prompt plus reply.
The *frame* is the prompt with every shown answer empty (system text, question,
instructions, labels). What is left,

    free = context_size - max_tokens - frame_tokens - SAFETY_MARGIN

is split evenly between the answers shown (the own answer counts as one), and each answer
is cut to `chars_for_tokens(free // n)` characters (3 per token: safe for dense text),
marker included: at the last sentence end in the second half of that budget, else at the
last word boundary in its second half, else mid-word, and marked with
`TRUNCATION_MARKER`. When an answer's share is below `MIN_ANSWER_TOKENS`, answers are
replaced by the marker alone: the turn still runs, on the question only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autogen_core.models import AssistantMessage, LLMMessage, UserMessage

from conclave.agents.tokens import chars_for_tokens

TRUNCATION_MARKER = " [...truncated]"
SAFETY_MARGIN = 16  # tokens: rounding in the estimate, the system text merge
MIN_ANSWER_TOKENS = 8

Cut = Callable[[str], str]

# Short and concrete, and the question last: 135M-270M models answer the last question
# they read. Asked to "check the answers and say what is wrong" they wrote about the
# names in the list or answered with a digit; asked to pick "the correct answer" they
# answered with option letters (bench/results/quality.md has the measurements).
# The same words whether or not the participant has an own answer (its assistant turn).
CRITIQUE = "Other participants answered:\n{answers}\n\nSome of these may be wrong. {question}"
AGGREGATE = "Participants answered:\n{answers}\n\nSome of these may be wrong. {question}"

# Answers are listed without their participants' names: a small model copies names and
# numbers from the list into its answer.
ANSWER_ITEM = "- {text}"

# Under a grammar (a JSON response format or tools, without reason-first) the answer's
# form is decided token by token: the same turns, saying which form (`{form}`, from
# structured/render.py) before the question.
CRITIQUE_CONSTRAINED = (
    "Other participants answered:\n{answers}\n\nSome of these may be wrong. "
    "Reply with your answer only, {form}. {question}"
)
AGGREGATE_CONSTRAINED = (
    "Participants answered:\n{answers}\n\nSome of these may be wrong. "
    "Reply with one answer only, {form}. {question}"
)

_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Shown:
    """An earlier answer shown in a prompt (whose it is; the prompt shows no names)."""

    name: str
    text: str


def unchanged(text: str) -> str:
    return text


def blank(text: str) -> str:
    """Cuts every answer to nothing: how the frame of a prompt is measured."""
    return ""


def critique_messages(
    conversation: Sequence[LLMMessage],
    own: str | None,
    others: Sequence[Shown],
    cut: Cut = unchanged,
    form: str | None = None,
) -> list[LLMMessage]:
    """A critique turn: own latest answer (None: it has none) and the others' answers.
    `form`: the answer decodes under a grammar, and this says in what form."""
    messages = list(conversation)
    if own is not None:
        messages.append(AssistantMessage(content=cut(own), source="assistant"))
    template = CRITIQUE if form is None else CRITIQUE_CONSTRAINED
    text = template.format(answers=_list(others, cut), question=_question(conversation), form=form)
    return _with_user_text(messages, text)


def aggregate_messages(
    conversation: Sequence[LLMMessage],
    answers: Sequence[Shown],
    cut: Cut = unchanged,
    form: str | None = None,
) -> list[LLMMessage]:
    """An aggregation turn (mixture of agents) over `answers` (`form`: as for critique)."""
    template = AGGREGATE if form is None else AGGREGATE_CONSTRAINED
    text = template.format(answers=_list(answers, cut), question=_question(conversation), form=form)
    return _with_user_text(list(conversation), text)


def answer_budget(*, context_size: int, max_tokens: int, frame_tokens: int, answers: int) -> int:
    """Tokens each shown answer may take (see the module docstring); 0 = show none."""
    if answers <= 0:
        return 0
    free = context_size - max_tokens - frame_tokens - SAFETY_MARGIN
    share = free // answers
    return share if share >= MIN_ANSWER_TOKENS else 0


def cutter(tokens_per_answer: int) -> Cut:
    """Cuts an answer to its share of the context window (see the module docstring)."""
    limit = chars_for_tokens(tokens_per_answer)
    return lambda text: truncate(text, limit)


def truncate(text: str, max_chars: int) -> str:
    """`text` in at most `max_chars` characters, marker included; see the module docstring."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    room = max_chars - len(TRUNCATION_MARKER)
    if room <= 0:
        return TRUNCATION_MARKER.strip()
    head = text[: room + 1]  # one more: a sentence may end exactly at the limit
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= room]
    if ends and ends[-1] >= room // 2:
        cut = ends[-1]
    else:
        spaces = [m.start() for m in _SPACE.finditer(head) if m.start() <= room]
        cut = spaces[-1] if spaces and spaces[-1] >= room // 2 else room
    return text[:cut].rstrip() + TRUNCATION_MARKER


def _list(answers: Sequence[Shown], cut: Cut) -> str:
    return "\n".join(ANSWER_ITEM.format(text=cut(a.text)) for a in answers)


def _question(conversation: Sequence[LLMMessage]) -> str:
    """The last user turn's text: what the round asks."""
    for message in reversed(conversation):
        if isinstance(message, UserMessage) and isinstance(message.content, str):
            return message.content.strip()
    return ""


def _with_user_text(messages: list[LLMMessage], text: str) -> list[LLMMessage]:
    last = messages[-1] if messages else None
    if isinstance(last, UserMessage) and isinstance(last.content, str):
        messages[-1] = UserMessage(content=f"{last.content}\n\n{text}", source=last.source)
    else:
        messages.append(UserMessage(content=text, source="user"))
    return messages
