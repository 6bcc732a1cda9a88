"""bench/early_answers.py's arithmetic on made-up samples: paired ratios per door, the
settled-to-decided and write figures, the count of whole stored rounds."""

from __future__ import annotations

import pytest

from bench.early_answers import result


def sample(round_: int, door: str, early: bool, answer: float, end: float, **extra) -> dict:
    return {
        "round": round_,
        "door": door,
        "early": early,
        "answer_ms": answer,
        "end_ms": end,
        "round_id": f"{door}{round_}{early}",
        "settled_gap_ms": extra.get("gap"),
        "whole": extra.get("whole", True),
    }


def test_ratios_are_medians_of_per_round_pairs_and_the_write_is_decided_to_end() -> None:
    samples = [
        sample(0, "openai", True, 100.0, 101.0),
        sample(0, "openai", False, 1000.0, 1000.5),
        sample(0, "leader", True, 50.0, 52.0, gap=0.5),
        sample(0, "leader", False, 500.0, 501.0),
        sample(1, "openai", True, 300.0, 301.0),
        sample(1, "openai", False, 1000.0, 1001.0),
        sample(1, "leader", True, 200.0, 204.0, gap=1.5),
        sample(1, "leader", False, 400.0, 401.0, whole=False),
    ]
    got = result(samples, rounds=2).measurements
    assert got["ratio_openai"] == pytest.approx((0.1 + 0.3) / 2)
    assert got["ratio_leader"] == pytest.approx((0.1 + 0.5) / 2)
    assert got["settled_to_decided_ms"] == pytest.approx(1.0)
    assert got["decided_to_stream_end_ms"] == pytest.approx(3.0)
    detail = result(samples, rounds=2).tables[1]
    assert detail.rows[-1][1] == "7 / 8"
