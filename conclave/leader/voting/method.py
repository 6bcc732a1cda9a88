"""A voting method, and what a round must give it besides the candidates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conclave.leader.types import Candidate, Decision
from conclave.leader.voting.params import VoteParams

VoteFn = Callable[[Sequence[Candidate], VoteParams], Decision]


@dataclass(frozen=True, slots=True)
class VotingMethod:
    """`vote` is pure; the flags tell the round what to fetch before it votes and how it
    may shorten a turn."""

    name: str
    vote: VoteFn
    # The round fetches the voters' embeddings into `VoteParams.embeddings`.
    needs_embeddings: bool = False
    # The round asks a judge participant first and passes its pick as `judge_choice`.
    needs_judge: bool = False
    # Each candidate counts its participant's `VoteParams.weights` entry.
    uses_weights: bool = False
    # A count of votes: stragglers may be stopped once they can no longer change it.
    counts_for_early_stop: bool = False
