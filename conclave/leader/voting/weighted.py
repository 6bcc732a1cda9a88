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
    rank,
    share,
)

NAME = "weighted"


def decide(candidates: Sequence[Candidate], indices: list[int], params: VoteParams) -> Decision:
    """Group weight = sum of `params.weights[participant]` (1.0 when unnamed) over its
    members; every sample of a participant carries that participant's weight."""

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


METHOD = VotingMethod(NAME, decide, uses_weights=True, counts_for_early_stop=True)
