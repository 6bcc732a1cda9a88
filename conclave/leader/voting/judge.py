"""`judge`: an agent picks the most consistent answer; majority when it cannot.

The round code asks a judge participant with `judge_prompt`, reads the reply with
`parse_judge_reply` and passes the index as `VoteParams.judge_choice`; `vote` itself stays
pure. Groups are the majority's answer groups with the judged candidate's group first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from conclave.leader.types import Candidate, Decision
from conclave.leader.voting import majority
from conclave.leader.voting.method import VotingMethod
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.tally import (
    answers_of,
    decision,
    first_with,
    group_by_answer,
    rank,
    share,
    votable,
)

NAME = "judge"
# A whole number on its own: not a piece of "3.5", "v2" or "2nd".
_INTEGER = re.compile(r"(?<![\w.])\d+(?!\w|\.\d)")


def judge_prompt(question: str, candidates: Sequence[Candidate], max_chars_each: int = 600) -> str:
    """Asks for the number (1..k) of the best of the k votable candidates; long answers
    are cut to `max_chars_each` characters so the prompt fits a small model's context."""
    lines = [
        "Several assistants answered the same question. Pick the answer that is most "
        "likely correct and most consistent with the others.",
        "",
        "Question:",
        question.strip(),
        "",
    ]
    for number, index in enumerate(votable(candidates), start=1):
        lines += [f"Answer {number}:", _clip(candidates[index].text.strip(), max_chars_each), ""]
    lines.append("Which answer is best? Answer with the number only.")
    return "\n".join(lines)


def parse_judge_reply(reply: str, candidates: Sequence[Candidate]) -> int | None:
    """The candidate index named by the first whole number in `reply` (1-based among the
    votable candidates, as in `judge_prompt`); None if there is none or it is out of range."""
    match = _INTEGER.search(reply)
    if match is None:
        return None
    indices = votable(candidates)
    number = int(match.group(0))
    return indices[number - 1] if 1 <= number <= len(indices) else None


def decide(candidates: Sequence[Candidate], indices: list[int], params: VoteParams) -> Decision:
    choice = params.judge_choice
    if choice is None or not 0 <= choice < len(candidates) or not candidates[choice].ok:
        why = "No judge choice" if choice is None else f"The judge chose {choice}, not votable"
        fallback = majority.decide(candidates, indices, params)
        return replace(fallback, method=NAME, detail=f"{why}; majority instead: {fallback.detail}")
    answers = answers_of(candidates, indices, params.extract)
    groups = first_with(rank(group_by_answer(answers, lambda _: 1.0)), choice)
    top = groups[0]
    detail = (
        f"The judge chose candidate {choice} ({candidates[choice].participant}); "
        f"{share(len(top.members), len(indices))} votable candidates gave its answer."
    )
    return decision(NAME, groups, choice, len(indices), detail)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


METHOD = VotingMethod(NAME, decide, needs_judge=True)
