"""`two_phase`: each agent service votes over its own samples, then the services vote.

Phase 1: candidates are split by `service` (participants sharing an agent service vote
together); a plain majority inside each gives that service's local winner and its local
agreement (the share of the service's votable samples that agree with it).
Phase 2: each local winner's answer collects its service's local agreement as weight.
Groups hold every votable candidate with that answer (weight 0.0 for answers no service
chose), ranked by the package tie-break rule; the global winner is the lowest-index local
winner in the top group. Agreement = share of all votable candidates giving its answer.
A service whose samples agree weakly thus counts less than one that agrees with itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from conclave.leader.types import Candidate, Decision, VoteGroup
from conclave.leader.voting.method import VotingMethod
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.tally import (
    answers_of,
    decision,
    group_by_answer,
    rank,
    share,
)

NAME = "two_phase"


@dataclass(frozen=True, slots=True)
class LocalVote:
    service: str
    winner: int  # candidate index
    answer: str
    agreement: float  # share of the service's votable samples giving `answer`


def local_votes(answers: dict[int, str], candidates: Sequence[Candidate]) -> list[LocalVote]:
    """Phase 1, services in order of their first votable candidate."""
    by_service: dict[str, dict[int, str]] = {}
    for index in sorted(answers):
        by_service.setdefault(candidates[index].service, {})[index] = answers[index]
    results = []
    for service, own in by_service.items():
        top = rank(group_by_answer(own, lambda _: 1.0))[0]
        results.append(
            LocalVote(
                service=service,
                winner=min(top.members),
                answer=top.answer,
                agreement=len(top.members) / len(own),
            )
        )
    return results


def decide(candidates: Sequence[Candidate], indices: list[int], params: VoteParams) -> Decision:
    answers = answers_of(candidates, indices, params.extract)
    locals_ = local_votes(answers, candidates)
    weight: dict[str, list[float]] = {}
    for local in locals_:
        weight.setdefault(local.answer, []).append(local.agreement)
    groups = rank(
        VoteGroup(answer=g.answer, members=g.members, weight=math.fsum(weight.get(g.answer, ())))
        for g in group_by_answer(answers, lambda _: 0.0)
    )
    top = groups[0]
    winner = min(local.winner for local in locals_ if local.answer == top.answer)
    chose = sum(1 for local in locals_ if local.answer == top.answer)
    detail = (
        f"{chose} of {len(locals_)} agent service(s) chose {top.answer!r} "
        f"(summed local agreement {top.weight:g}); "
        f"{share(len(top.members), len(indices))} votable candidates gave it."
    )
    return decision(NAME, groups, winner, len(indices), detail)


METHOD = VotingMethod(NAME, decide)
