"""The benchmarks' arithmetic: medians, ratios, targets, stream timings."""

from __future__ import annotations

import pytest

from bench.concurrency_report import Burst, kernel_ratio, kernel_table
from bench.kernel import KernelSample
from bench.order import RoundBudget, rotated
from bench.stats import Target, difference, median, ratio, spread
from bench.timing import StreamTiming, aggregate_tps


def test_median_skips_unmeasured_values():
    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0]) == 2.5
    assert median([None, None]) is None
    assert median([]) is None


def test_ratio_and_difference_propagate_missing_values():
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 2.0) is None
    assert difference(5.0, 2.0) == 3.0
    assert difference(5.0, None) is None


def test_spread_is_min_and_max():
    assert spread([2.0, None, 5.0, 1.0]) == (1.0, 5.0)
    assert spread([None]) is None


@pytest.mark.parametrize(
    ("comparison", "value", "verdict"),
    [
        (">=", 0.97, "PASS"),
        (">=", 0.969, "MISS"),
        ("<=", 5.0, "PASS"),
        ("<=", 5.01, "MISS"),
        (">=", None, "n/a"),
    ],
)
def test_target_verdicts(comparison, value, verdict):
    threshold = 0.97 if comparison == ">=" else 5.0
    assert Target("x", comparison, threshold, value).verdict == verdict


def test_target_goal_and_dict():
    target = Target("TTFT (b)−(a)", "<=", 5.0, 3.25, "ms")
    assert target.goal == "<= 5 ms"
    assert target.passed is True
    assert target.as_dict() == {
        "name": "TTFT (b)−(a)",
        "comparison": "<=",
        "threshold": 5.0,
        "value": 3.25,
        "unit": "ms",
        "verdict": "PASS",
    }


def test_stream_timing_rates():
    timing = StreamTiming(sent=10.0, first=10.05, end=12.05, tokens=129)
    assert timing.ttft_ms == pytest.approx(50.0)
    assert timing.decode_tps == pytest.approx(64.0)  # 128 tokens after the first in 2 s
    assert timing.total_tps == pytest.approx(129 / 2.05)
    assert timing.as_dict()["decode_tps"] == pytest.approx(64.0)


def test_stream_timing_degenerate_cases_do_not_divide_by_zero():
    assert StreamTiming(sent=1.0, first=1.0, end=1.0, tokens=1).decode_tps == 0.0
    assert StreamTiming(sent=1.0, first=1.0, end=1.0, tokens=5).total_tps == 0.0


def test_aggregate_spans_first_request_to_last_token():
    streams = [
        StreamTiming(sent=0.0, first=0.1, end=2.0, tokens=100),
        StreamTiming(sent=0.5, first=0.6, end=4.0, tokens=100),
    ]
    assert aggregate_tps(streams) == pytest.approx(50.0)
    assert aggregate_tps([]) == 0.0


def test_rotated_moves_every_item_through_every_position():
    assert rotated(["a", "a2", "b"], 0) == ["a", "a2", "b"]
    assert rotated(["a", "a2", "b"], 1) == ["a2", "b", "a"]
    assert rotated(["a", "a2", "b"], 5) == ["b", "a", "a2"]
    assert rotated([], 3) == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_round_budget_stops_before_a_round_that_would_overrun():
    clock = FakeClock()
    budget = RoundBudget(rounds=5, seconds=25.0, clock=clock)
    seen = []
    for r in budget:
        seen.append(r)
        clock.now += 10.0  # every round takes 10 s: rounds 0 and 1 fit, a third would end at 30
    assert seen == [0, 1]
    assert budget.completed == 2


def test_round_budget_always_runs_the_first_round_and_caps_the_count():
    clock = FakeClock()
    slow = RoundBudget(rounds=3, seconds=1.0, clock=clock)
    for _ in slow:
        clock.now += 100.0
    assert slow.completed == 1
    assert list(RoundBudget(rounds=3, seconds=1e9, clock=clock)) == [0, 1, 2]


def _burst(variant: str, n: int, round_: int, tps: float) -> Burst:
    # One stream of 100 tokens over 100 / tps seconds: an aggregate of tps.
    return Burst(
        variant, n, round_, (StreamTiming(sent=0.0, first=0.1, end=100 / tps, tokens=100),)
    )


def test_the_kernel_ceiling_is_paired_by_round():
    bursts = [
        _burst("b", 4, 0, 100.0),
        _burst("a", 4, 0, 150.0),
        _burst("b", 4, 1, 50.0),
        _burst("a", 4, 1, 80.0),
    ]
    kernels = [
        KernelSample(0, 1, 100.0),
        KernelSample(0, 4, 160.0),
        KernelSample(1, 1, 50.0),
        KernelSample(1, 4, 90.0),
    ]
    # Round 0: 160 / 100 = 1.6; round 1: 90 / 50 = 1.8 -> median 1.7.
    assert kernel_ratio(bursts, kernels, 4) == pytest.approx(1.7)
    assert kernel_ratio(bursts, [KernelSample(2, 4, 1.0)], 4) is None  # no (b) in round 2
    table = kernel_table(bursts, kernels, (4,))
    assert table.rows[0][0] == "4"
    assert table.rows[0][3] == "1.70"  # raw / (b)
