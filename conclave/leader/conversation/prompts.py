"""Every prompt of the conversation strategies, and the rule that keeps a turn in context.

Turn 0 of every strategy sends the round's conversation unchanged. Later turns add the
earlier answers (docs/strategies.md shows each prompt in full):

- critique (`parallel`, `round_robin`): the participant's own latest answer as its
  assistant turn, then a user turn listing the other participants' latest answers and
  asking it to find mistakes and revise;
- aggregate (`moa`): one user turn listing every proposal and asking for a synthesis.

Both end by asking for a final line "Answer: ...", which answer extraction reads first.
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

CRITIQUE = """Other participants answered the same question:

{answers}

Check their answers and yours for mistakes. In one or two sentences say what is wrong, \
if anything. Then give your revised answer. End with a line "Answer: <your final answer>"."""

CRITIQUE_WITHOUT_OWN = """Other participants answered the same question:

{answers}

Check their answers for mistakes. In one or two sentences say what is wrong, if anything. \
Then give your own answer. End with a line "Answer: <your final answer>"."""

AGGREGATE = """Here are answers from several participants to the question above:

{answers}

Some of them may be wrong. Evaluate them critically and write one answer that is correct \
and complete; do not simply copy one of them. End with a line "Answer: <your final answer>"."""

ANSWER_ITEM = "[{name}]\n{text}"

# Under a grammar (a JSON response format or tools, without reason-first) the answer's
# form is decided token by token, so these ask for the revised answer in that form
# instead of a final "Answer:" line; `{form}` says which (structured/render.py).
CRITIQUE_CONSTRAINED = """Other participants answered the same question:

{answers}

Check their answers and yours for mistakes. Then reply with your revised answer only, {form}."""

CRITIQUE_WITHOUT_OWN_CONSTRAINED = """Other participants answered the same question:

{answers}

Check their answers for mistakes. Then reply with your own answer only, {form}."""

AGGREGATE_CONSTRAINED = """Here are answers from several participants to the question above:

{answers}

Some of them may be wrong. Evaluate them critically and reply with one answer that is \
correct and complete, {form}."""

_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Shown:
    """An earlier answer shown in a prompt, under its participant's name."""

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
    if form is None:
        template = CRITIQUE if own is not None else CRITIQUE_WITHOUT_OWN
    else:
        template = CRITIQUE_CONSTRAINED if own is not None else CRITIQUE_WITHOUT_OWN_CONSTRAINED
    return _with_user_text(messages, template.format(answers=_list(others, cut), form=form))


def aggregate_messages(
    conversation: Sequence[LLMMessage],
    answers: Sequence[Shown],
    cut: Cut = unchanged,
    form: str | None = None,
) -> list[LLMMessage]:
    """An aggregation turn (mixture of agents) over `answers` (`form`: as for critique)."""
    template = AGGREGATE if form is None else AGGREGATE_CONSTRAINED
    return _with_user_text(
        list(conversation), template.format(answers=_list(answers, cut), form=form)
    )


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
    return "\n\n".join(ANSWER_ITEM.format(name=a.name, text=cut(a.text)) for a in answers)


def _with_user_text(messages: list[LLMMessage], text: str) -> list[LLMMessage]:
    last = messages[-1] if messages else None
    if isinstance(last, UserMessage) and isinstance(last.content, str):
        messages[-1] = UserMessage(content=f"{last.content}\n\n{text}", source=last.source)
    else:
        messages.append(UserMessage(content=text, source="user"))
    return messages
