"""The strategies benchmark's arithmetic: ratios paired question by question, and the
cached vs uncached targets (pure logic; the benchmark itself runs in `make bench`)."""

from __future__ import annotations

from bench.strategies import (
    AGENT_SLOTS,
    CACHED,
    PERSONAS,
    QUESTIONS,
    UNCACHED,
    RoundRow,
    _voice_name,
    filler_question,
    paired,
    parallel_rounds,
    prefilled,
    summarize,
    wall,
)


def row(agent: str, strategy: str, question: int, wall_ms: float, prefilled: int) -> RoundRow:
    return RoundRow(
        agent=agent,
        strategy=strategy,
        question=question,
        repeat=0,
        status="decided",
        wall_ms=wall_ms,
        turns=1,
        generations=3,
        prompt_tokens=100,
        completion_tokens=10,
        answer="42",
        expected="42",
        agreement=1.0,
        cached_tokens=100 - prefilled,
        prefilled_tokens=prefilled,
    )


def test_paired_takes_the_median_of_per_question_ratios() -> None:
    rows = [
        row(CACHED, "parallel", 0, 300.0, 10),
        row(CACHED, "parallel", 1, 900.0, 10),
        row(CACHED, "parallel", 2, 400.0, 10),
        row(CACHED, "vote", 0, 100.0, 1),
        row(CACHED, "vote", 1, 300.0, 1),
        row(CACHED, "vote", 2, 100.0, 1),
    ]
    # per question 3.0, 3.0, 4.0: the median pairs neighbours, not the two medians (400/100)
    assert paired(rows, (CACHED, "parallel"), (CACHED, "vote"), wall) == 3.0


def test_paired_skips_questions_one_side_did_not_decide() -> None:
    rows = [
        row(CACHED, "parallel", 0, 100.0, 20),
        row(CACHED, "parallel", 1, 100.0, 20),
        row(UNCACHED, "parallel", 0, 100.0, 80),
        RoundRow(UNCACHED, "parallel", 1, 0, "failed", 1.0, 1, 3, 100, 10, "", "42", 0.0, 99, 1),
    ]
    assert paired(rows, (CACHED, "parallel"), (UNCACHED, "parallel"), prefilled) == 0.25


def test_summary_states_both_issue_targets() -> None:
    rows = [
        row(agent, strategy, q, wall, prefilled)
        for q in range(2)
        for agent, strategy, wall, prefilled in (
            (CACHED, "vote", 100.0, 5),
            (CACHED, "parallel", 250.0, 40),
            (UNCACHED, "vote", 200.0, 100),
            (UNCACHED, "parallel", 500.0, 200),
        )
    ]
    result = summarize(rows, questions=2, repeats=1)
    verdicts = {t.name: (t.value, t.verdict) for t in result.targets}
    assert verdicts["parallel prefilled per round, cached / uncached"] == (0.2, "PASS")
    assert verdicts["parallel / vote wall time (cached agent)"] == (2.5, "MISS")


def test_the_parallel_split_pairs_each_question_with_its_own_votes() -> None:
    rows = [
        row(CACHED, "parallel", 0, 800.0, 180),
        row(CACHED, "vote", 0, 300.0, 45),
        row(UNCACHED, "vote", 0, 1300.0, 745),
        row(CACHED, "parallel", 1, 700.0, 170),  # no uncached vote decided on question 1
        row(CACHED, "vote", 1, 200.0, 40),
    ]
    (only,) = parallel_rounds(rows)
    assert (only.parallel_ms, only.vote_ms, only.uncached_vote_ms) == (800.0, 300.0, 1300.0)
    assert (only.parallel_prefilled, only.uncached_vote_prefilled) == (180, 745)


def test_filler_questions_never_repeat_nor_match_a_measured_one() -> None:
    fillers = [filler_question(n) for n in range(500)]
    assert len(set(fillers)) == len(fillers)
    assert not set(fillers) & {question for question, _ in QUESTIONS}


def test_a_filler_round_has_a_distinct_voice_per_slot() -> None:
    names = [_voice_name(i) for i in range(AGENT_SLOTS)]
    assert len(set(names)) == AGENT_SLOTS
    assert names[: len(PERSONAS)] == list(PERSONAS)  # the measured voices keep their names
