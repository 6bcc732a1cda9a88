"""`majority`: the most common extracted short answer wins."""

from __future__ import annotations

from collections.abc import Sequence

from conclave.leader.types import Candidate, Decision
from conclave.leader.voting.method import VotingMethod
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.tally import (
    answers_of,
    decision,
    group_by_answer,
    rank,
    share,
)

NAME = "majority"


def decide(candidates: Sequence[Candidate], indices: list[int], params: VoteParams) -> Decision:
    """Groups votable candidates by extracted answer (one vote each); the winner is the
    lowest-index member of the top group."""
    groups = rank(group_by_answer(answers_of(candidates, indices, params.extract), _one))
    top = groups[0]
    detail = (
        f"{share(len(top.members), len(indices))} votable candidates answered "
        f"{top.answer!r}; {len(groups)} distinct answer(s) (extraction: {params.extract})."
    )
    return decision(NAME, groups, min(top.members), len(indices), detail)


def _one(_: int) -> float:
    return 1.0


METHOD = VotingMethod(NAME, decide, counts_for_early_stop=True)
