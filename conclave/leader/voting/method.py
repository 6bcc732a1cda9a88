"""A voting method, and what a round must give it besides the candidates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conclave.leader.types import Candidate, Decision
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.tally import no_votes, votable

VoteFn = Callable[[Sequence[Candidate], VoteParams], Decision]
# Decides over the votable candidates' indices (never empty) into the full list.
DecideFn = Callable[[Sequence[Candidate], list[int], VoteParams], Decision]


@dataclass(frozen=True, slots=True)
class VotingMethod:
    """`vote` is pure; the flags tell the round what to fetch before it votes and how it
    may shorten a turn."""

    name: str
    decide: DecideFn
    # The round fetches the voters' embeddings into `VoteParams.embeddings`.
    needs_embeddings: bool = False
    # The round asks a judge participant first and passes its pick as `judge_choice`.
    needs_judge: bool = False
    # Each candidate counts its participant's `VoteParams.weights` entry.
    uses_weights: bool = False
    # A count of votes: stragglers may be stopped once they can no longer change it.
    counts_for_early_stop: bool = False

    def vote(self, candidates: Sequence[Candidate], params: VoteParams) -> Decision:
        """Only candidates with `.ok` vote; with none, `winner` is None and `detail` says
        why. Every index in the decision refers to `candidates`."""
        indices = votable(candidates)
        if not indices:
            return no_votes(self.name, candidates)
        return self.decide(candidates, indices, params)
