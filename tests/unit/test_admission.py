"""Admission control's estimate: when a queued job starts and finishes (pure replay)."""

from __future__ import annotations

import pytest

from conclave.services.engine.admission import (
    MovingAverage,
    QueuedWork,
    RecentMedian,
    estimate,
    job_steps,
)


def test_a_free_slot_starts_at_once():
    got = estimate(slots=2, running=[50.0], queued=[], job=QueuedWork(1, 10.0), step_s=0.1)
    assert got.start_s == 0.0 and got.finish_s == pytest.approx(1.0)


def test_a_full_agent_starts_the_job_when_the_first_slot_frees():
    got = estimate(slots=2, running=[30.0, 80.0], queued=[], job=QueuedWork(1, 10.0), step_s=0.1)
    assert got.start_s == pytest.approx(3.0) and got.finish_s == pytest.approx(4.0)


def test_queued_jobs_go_first_in_fifo_order():
    # Slots free at 30 and 80; the queued job takes the first (30 -> 130), ours the next.
    got = estimate(
        slots=2,
        running=[30.0, 80.0],
        queued=[QueuedWork(1, 100.0)],
        job=QueuedWork(1, 10.0),
        step_s=1.0,
    )
    assert (got.start_s, got.finish_s) == (80.0, 90.0)


def test_a_job_of_n_samples_waits_for_n_slots():
    got = estimate(
        slots=3, running=[5.0, 20.0, 40.0], queued=[], job=QueuedWork(2, 1.0), step_s=1.0
    )
    assert got.start_s == 20.0


def test_a_big_job_ahead_holds_back_a_small_one_behind_it():
    # FIFO as the scheduler admits: the 2-sample job waits for two free slots, ours after.
    got = estimate(
        slots=2,
        running=[10.0, 50.0],
        queued=[QueuedWork(2, 5.0)],
        job=QueuedWork(1, 1.0),
        step_s=1.0,
    )
    assert got.start_s == 55.0


def test_impossible_inputs_are_refused():
    with pytest.raises(ValueError, match="never fits"):
        estimate(slots=1, running=[], queued=[], job=QueuedWork(2, 1.0), step_s=1.0)
    with pytest.raises(ValueError, match="running sequences"):
        estimate(slots=1, running=[1.0, 1.0], queued=[], job=QueuedWork(1, 1.0), step_s=1.0)


def test_job_steps_count_prompt_chunks_then_tokens():
    assert job_steps(prompt_tokens=70, prefill_chunk=32, expected_tokens=20.0) == 23.0
    assert job_steps(prompt_tokens=0, prefill_chunk=32, expected_tokens=5.0) == 5.0


def test_moving_average_starts_at_its_first_sample():
    average = MovingAverage(0.5)
    assert average.value is None
    average.add(10.0)
    average.add(20.0)
    assert average.value == 15.0
    with pytest.raises(ValueError):
        MovingAverage(0.0)


def test_recent_median_forgets_old_samples_and_ignores_one_slow_step():
    median = RecentMedian(3, least=2)
    assert median.value is None
    median.add(7.0)
    assert median.value is None  # one step is no measurement yet
    for sample in (0.02, 0.03):
        median.add(sample)
    assert median.value == 0.03  # the slow first call does not count
    for sample in (1.0, 1.0):
        median.add(sample)
    assert median.value == 1.0  # the load changed: the last three are what counts
