"""Voting methods: pure functions from candidates to a Decision (no I/O, no clock).

Every method is a `VotingMethod`: a pure ``vote(candidates, params) -> Decision`` and
what the round must fetch for it (embeddings, a judge's pick) or may do (stop
stragglers early). Only candidates with ``.ok``
vote; the rest are ignored, but every index (winner, group members) refers to the full
list passed in. The caller passes the candidates to vote on (in conversation strategies,
typically the last turn). With nothing votable a method returns ``winner=None``,
``answer=""``, ``agreement=0`` and says why in ``detail``.

``answer`` is always the winner's extracted short answer (``params.extract``, see
``voting.extract``); the full text is ``candidates[winner].text``. ``agreement`` is the
share of votable candidates in the winning group (0..1), ``dissent`` the other groups'
answers and ``groups`` every group, best first.

Tie-break rule (deterministic; the order candidates arrive in only matters at the last
step, which is the request's participant order):

1. Groups rank by higher weight (exact sums via ``math.fsum``, so summation order
   cannot split a tie), then by more members, then by the earliest member - the lowest
   candidate index, i.e. the participant earliest in the request order.
2. Within the winning group the representative winner is its lowest-index member for
   ``majority``, ``weighted`` and ``two_phase`` (for ``two_phase``: the lowest-index
   *local winner* in the group); the medoid for ``similarity`` (ties: lowest index).
3. ``quality`` ranks candidates by higher score, then more votable candidates sharing
   the extracted answer, then lowest index. ``fastest`` picks the lowest ``latency_ms``,
   then lowest index, and ranks its answer groups by their fastest member the same way.
   ``judge`` takes the judge's choice (its group first), else falls back to majority.
   ``fields`` decides each field of a JSON object by majority (ties as in rule 1) and
   picks the candidate agreeing on the most fields, then lowest index (``voting.fields``).

One exception to "agreement = share of the winning group": ``quality`` has singleton
groups, so it reports the share of votable candidates giving the winner's extracted
answer. (``two_phase`` groups hold every candidate per answer, so its agreement - the
share giving the global winner's answer - is the winning group's share too.)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from conclave.errors import InvalidRequest
from conclave.leader.voting import (
    fastest,
    fields,
    judge,
    majority,
    quality,
    similarity,
    two_phase,
    weighted,
)
from conclave.leader.voting.extract import ANSWER_MARKER, EXTRACT_MODES, extract_answer
from conclave.leader.voting.judge import judge_prompt, parse_judge_reply
from conclave.leader.voting.method import VoteFn, VotingMethod
from conclave.leader.voting.params import VoteParams

# Read-only: the set of methods is code, not configuration.
METHODS: Mapping[str, VotingMethod] = MappingProxyType(
    {
        m.name: m
        for m in (
            majority.METHOD,
            similarity.METHOD,
            quality.METHOD,
            fastest.METHOD,
            weighted.METHOD,
            two_phase.METHOD,
            judge.METHOD,
            fields.METHOD,
        )
    }
)


def get_method(name: str) -> VotingMethod:
    try:
        return METHODS[name]
    except KeyError:
        raise InvalidRequest(
            f"unknown voting method {name!r}; known methods: {', '.join(METHODS)}",
            field="method",
        ) from None


__all__ = [
    "ANSWER_MARKER",
    "EXTRACT_MODES",
    "METHODS",
    "VoteFn",
    "VoteParams",
    "VotingMethod",
    "extract_answer",
    "get_method",
    "judge_prompt",
    "parse_judge_reply",
]
