"""Where a `parallel` round's time goes, next to a vote on the same question (issue 20).

A parallel round (R = 1) is a first turn, which is a vote's work, then a critique turn.
If the critique turn cost what a vote costs, parallel / vote would be 2. It costs more
because each voice's critique prompt carries text the agent has never seen (the others'
answers, the question asked again) after that voice's own history, so no other voice's
KV can serve it: those tokens are prefilled, one voice at a time in the same batch.

Prefill here is compute, so its price per token is measured in the same run: a vote on
the uncached agent prefills every prompt token, the same vote on the cached agent only
the new ones; the wall time between them over the tokens between them is what a
prefilled token costs. The floor that price sets for parallel / vote is

    2 + (parallel prefilled - 2 x vote prefilled) x ms per token / vote wall

(two votes' worth of work, plus the critique's extra tokens at that price). It is an
estimate: it assumes a prefilled token costs the same in a vote's batch and a critique's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.stats import median, ratio
from bench.table import Table, cell


@dataclass(frozen=True, slots=True)
class QuestionRounds:
    """One question's rounds that the split reads: the cached agent's vote and parallel
    round, and the uncached agent's vote (times in ms, tokens prefilled by the agent)."""

    vote_ms: float
    vote_prefilled: int
    parallel_ms: float
    parallel_prefilled: int
    first_turn_ms: float  # the parallel round's first turn: its slowest candidate
    critique_turn_ms: float  # its critique turn: the slowest candidate
    uncached_vote_ms: float
    uncached_vote_prefilled: int


def prefill_ms_per_token(q: QuestionRounds) -> float | None:
    return ratio(q.uncached_vote_ms - q.vote_ms, q.uncached_vote_prefilled - q.vote_prefilled)


def extra_critique_tokens(q: QuestionRounds) -> int:
    """Tokens the parallel round prefilled beyond two votes' worth."""
    return q.parallel_prefilled - 2 * q.vote_prefilled


def floor(q: QuestionRounds) -> float | None:
    """parallel / vote if the critique's extra tokens were its only extra cost."""
    price = prefill_ms_per_token(q)
    if price is None or not q.vote_ms:
        return None
    return 2 + extra_critique_tokens(q) * price / q.vote_ms


def between_turns_ms(q: QuestionRounds) -> float:
    """The round's wall time that neither turn's slowest candidate covers: building the
    critique prompts, the vote, writing the record."""
    return q.parallel_ms - q.first_turn_ms - q.critique_turn_ms


def split_table(questions: Sequence[QuestionRounds]) -> Table:
    def share(part: Callable[[QuestionRounds], float]) -> str:
        return cell(median(ratio(part(q), q.vote_ms) for q in questions), 2, "×")

    rows = (
        ("first turn", share(lambda q: q.first_turn_ms)),
        ("critique turn", share(lambda q: q.critique_turn_ms)),
        ("between and after the turns", share(between_turns_ms)),
        ("whole round", share(lambda q: q.parallel_ms)),
        (
            "critique's prefilled tokens beyond two votes'",
            cell(median(float(extra_critique_tokens(q)) for q in questions), 0),
        ),
        (
            "price of a prefilled token, ms (uncached vs cached vote)",
            cell(median(prefill_ms_per_token(q) for q in questions), 2),
        ),
        ("floor those tokens set for parallel / vote", cell(median(map(floor, questions)), 2, "×")),
    )
    return Table(
        title="Where a parallel round's time goes (cached agent), relative to a vote",
        columns=("part", "median over questions"),
        rows=rows,
        notes=(
            "each part over the vote's wall time on the same question; a turn's time is its "
            "slowest candidate (request sent -> finished)",
            "floor: 2 + extra tokens × price / vote wall (bench/parallel_split.py): what "
            "parallel / vote would be if the critique turn cost a vote plus those tokens",
        ),
    )
