"""`fastest`: the first votable candidate to finish wins."""

from __future__ import annotations

from collections.abc import Sequence

from conclave.leader.types import Candidate, Decision, VoteGroup
from conclave.leader.voting.method import VotingMethod
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.tally import (
    answers_of,
    decision,
    group_by_answer,
    share,
)

NAME = "fastest"


def decide(candidates: Sequence[Candidate], indices: list[int], params: VoteParams) -> Decision:
    """Winner = lowest `latency_ms` (ties: lowest index). Groups are the answer groups
    (one vote each), ranked by their fastest member (ties: lowest index), so agreement
    still says how many candidates gave the fastest one's answer."""
    winner = min(indices, key=lambda i: (candidates[i].latency_ms, i))

    def fastest_member(group: VoteGroup) -> tuple[float, int]:
        # Same key as the winner's, so the winner's group is always first.
        return min((candidates[i].latency_ms, i) for i in group.members)

    groups = tuple(
        sorted(
            group_by_answer(answers_of(candidates, indices, params.extract), lambda _: 1.0),
            key=fastest_member,
        )
    )
    top = groups[0]
    detail = (
        f"Candidate {winner} ({candidates[winner].participant}) finished first after "
        f"{candidates[winner].latency_ms:.0f} ms; "
        f"{share(len(top.members), len(indices))} votable candidates gave its answer."
    )
    return decision(NAME, groups, winner, len(indices), detail)


METHOD = VotingMethod(NAME, decide)
