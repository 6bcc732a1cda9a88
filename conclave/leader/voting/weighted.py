"""`weighted`: majority where each candidate counts its participant's weight."""

from __future__ import annotations

from collections.abc import Sequence

from conclave.leader.types import Candidate, Decision
from conclave.leader.voting.method import VotingMethod
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.tally import (
    answers_of,
    decision,
    group_by_answer,
    no_votes,
    rank,
    share,
    votable,
)

NAME = "weighted"


def vote(candidates: Sequence[Candidate], params: VoteParams) -> Decision:
    """Group weight = sum of `params.weights[participant]` (1.0 when unnamed) over its
    members; every sample of a participant carries that participant's weight."""
    indices = votable(candidates)
    if not indices:
        return no_votes(NAME, candidates)

    def weight_of(index: int) -> float:
        return params.weight_of(candidates[index].participant)

    groups = rank(group_by_answer(answers_of(candidates, indices, params.extract), weight_of))
    top = groups[0]
    total = sum(weight_of(i) for i in indices)
    detail = (
        f"{top.answer!r} carried weight {top.weight:g} of {total:g} "
        f"({share(len(top.members), len(indices))} votable candidates)."
    )
    return decision(NAME, groups, min(top.members), len(indices), detail)


METHOD = VotingMethod(NAME, vote, uses_weights=True, counts_for_early_stop=True)
