"""`judge`: an agent picks the most consistent answer; majority when it cannot.

The round code asks a judge participant with `judge_prompt`, reads the reply with
`parse_judge_reply` and passes the index as `VoteParams.judge_choice`; `vote` itself stays
pure. Groups are the majority's answer groups with the judged candidate's group first.

The prompt shows the proposed answers, then asks the question again: a 135M-270M model
asked "which answer is best, by number?" names numbers at random (measured in
bench/results/quality.md), while asked the question beside the proposals it mostly
repeats the one it finds right. The reply is read as that answer (the votable candidate
whose extracted answer it matches), else as a candidate's number, so large judges that
answer with a number still work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from conclave.leader.types import Candidate, Decision
from conclave.leader.voting import majority
from conclave.leader.voting.extract import extract_answer
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
    """The proposals of the k votable candidates, numbered, then the question again; long
    answers are cut to `max_chars_each` characters so the prompt fits a small model."""
    lines = ["Proposed answers:"]
    for number, index in enumerate(votable(candidates), start=1):
        lines.append(f"{number}. {_clip(candidates[index].text.strip(), max_chars_each)}")
    lines += ["", "Some of them may be wrong. Reply with the correct one.", question.strip()]
    return "\n".join(lines)


def parse_judge_reply(
    reply: str, candidates: Sequence[Candidate], extract: str = "auto"
) -> int | None:
    """The candidate the judge chose: the first votable one whose answer (extracted with
    `extract`) the reply's answer equals, else the one its first whole number names
    (1-based among the votable candidates, as in `judge_prompt`); None if neither."""
    indices = votable(candidates)
    said = extract_answer(reply, extract)
    if said:
        for index in indices:
            if extract_answer(candidates[index].text, extract) == said:
                return index
    match = _INTEGER.search(reply)
    if match is None:
        return None
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
