"""The arithmetic of bench/parallel_split.py: the time split of a parallel round and the
floor its critique's prefilled tokens set (pure logic; the benchmark runs in `make bench`)."""

from __future__ import annotations

import pytest

from bench.parallel_split import (
    QuestionRounds,
    between_turns_ms,
    extra_critique_tokens,
    floor,
    prefill_ms_per_token,
    split_table,
)


def rounds(**changes: float) -> QuestionRounds:
    values = {
        "vote_ms": 300.0,
        "vote_prefilled": 45,
        "parallel_ms": 800.0,
        "parallel_prefilled": 180,
        "first_turn_ms": 310.0,
        "critique_turn_ms": 470.0,
        "uncached_vote_ms": 1300.0,
        "uncached_vote_prefilled": 745,
    }
    values.update(changes)
    return QuestionRounds(**values)  # type: ignore[arg-type]


def test_the_price_of_a_token_is_the_wall_time_between_the_two_votes_per_token() -> None:
    assert prefill_ms_per_token(rounds()) == pytest.approx(1000 / 700)


def test_the_floor_adds_the_extra_tokens_at_that_price_to_two_votes() -> None:
    q = rounds()
    assert extra_critique_tokens(q) == 90
    assert floor(q) == pytest.approx(2 + 90 * (1000 / 700) / 300)


def test_a_critique_with_no_new_tokens_has_the_floor_of_two() -> None:
    assert floor(rounds(parallel_prefilled=90)) == 2.0


def test_no_price_when_both_agents_prefilled_alike() -> None:
    q = rounds(uncached_vote_prefilled=45)
    assert prefill_ms_per_token(q) is None and floor(q) is None


def test_between_turns_is_what_neither_turn_covers() -> None:
    assert between_turns_ms(rounds()) == 20.0


def test_the_table_takes_medians_over_questions() -> None:
    table = split_table([rounds(), rounds(parallel_ms=900.0), rounds(parallel_ms=1000.0)])
    cells = dict(table.rows)
    assert cells["whole round"] == "3.00 ×"
    assert cells["first turn"] == "1.03 ×"
    assert cells["critique's prefilled tokens beyond two votes'"] == "90"
