"""When a vote is decided before every candidate is in.

Only counting methods can know this early (`counts_for_early_stop`: `majority`, one
vote each, and `weighted`, each participant's weight). The outcome is settled when the
leading answer's votes exceed the runner-up's plus every vote still outstanding —
strictly, because a tie would be broken by candidate order, which the outstanding ones
could still change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from conclave.leader.types import Candidate
from conclave.leader.voting import METHODS, VoteParams, extract_answer

COUNTING_METHODS = tuple(name for name, m in METHODS.items() if m.counts_for_early_stop)


def outcome_settled(
    method: str,
    done: Sequence[Candidate],
    outstanding: Sequence[str],
    params: VoteParams,
) -> bool:
    """`outstanding` names the participant of every candidate not finished yet."""
    voting = METHODS.get(method)
    if voting is None or not voting.counts_for_early_stop or not outstanding:
        return False

    def weight(participant: str) -> float:
        return params.weight_of(participant) if voting.uses_weights else 1.0

    votes: Counter[str] = Counter()
    for candidate in done:
        if candidate.ok:
            votes[extract_answer(candidate.text, params.extract)] += weight(candidate.participant)
    if not votes:
        return False
    ranked = sorted(votes.values(), reverse=True)
    lead = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else 0.0
    return lead > runner_up + sum(weight(p) for p in outstanding)
