"""Accuracy with a 95 % interval, and the difference between two ways of answering the
same items, by the bootstrap over items (pure; seeded, so a report is reproducible).

Items are the unit of sampling: a strategy's answers to one item are not independent of
each other, and two strategies answer the same items, so a difference is bootstrapped
on the paired per-item differences, not from two separate intervals.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RESAMPLES = 2000
SEED = 13


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float  # the mean over items (0..1 for an accuracy)
    low: float  # 95 % interval
    high: float

    def points(self) -> str:
        """`61 % [52–70]` for a table cell."""
        return f"{self.value:.0%} [{self.low * 100:.0f}–{self.high * 100:.0f}]"

    def signed_points(self) -> str:
        """`+12 [4 – 20]` percentage points, for a difference."""
        return f"{self.value * 100:+.0f} [{self.low * 100:+.0f} – {self.high * 100:+.0f}]"

    @property
    def clearly_above_zero(self) -> bool:
        return self.low > 0

    @property
    def clearly_below_zero(self) -> bool:
        return self.high < 0


def mean_interval(per_item: Sequence[float], *, seed: int = SEED) -> Estimate:
    """The mean of per-item scores (each in 0..1) with a percentile bootstrap interval."""
    if not per_item:
        return Estimate(0.0, 0.0, 0.0)
    values = list(per_item)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(statistics.fmean(rng.choices(values, k=n)) for _ in range(RESAMPLES))
    return Estimate(
        statistics.fmean(values),
        means[int(0.025 * (RESAMPLES - 1))],
        means[int(0.975 * (RESAMPLES - 1))],
    )


def paired_difference(a: Sequence[float], b: Sequence[float], *, seed: int = SEED) -> Estimate:
    """Mean of a − b over the same items, with its bootstrap interval."""
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same items: {len(a)} vs {len(b)}")
    return mean_interval([x - y for x, y in zip(a, b, strict=True)], seed=seed)
