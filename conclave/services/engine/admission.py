"""Admission control: will a request start and finish before its caller gives up?

A request that waits in the queue past its caller's deadline costs everyone: the caller
waits out its whole timeout instead of getting a prompt RESOURCE_EXHAUSTED (a 429 it can
retry elsewhere or later), and the slot it finally takes decodes for nobody. So the
scheduler asks, before queueing a request that cannot start at once, when it would start
and finish, from what it measures:

- the decode rate: seconds per scheduling step (every generating sequence gets one token
  per step, a prompt chunk of `prefill_chunk` tokens takes about one step), the median
  of the last steps that ran;
- the work ahead, in steps: the tokens each running sequence is still expected to
  generate, and each queued job's prefill chunks (of the share of prompt tokens the
  prefix cache has not been serving) plus its expected tokens;
- the expected length of a sample: a moving average of the lengths of finished samples,
  capped by the sample's max_tokens (max_tokens alone would refuse most work: replies
  usually stop well before it).

Slots free as the sequences in them finish, and queued jobs take them in FIFO order (as
the scheduler admits them); the estimate replays that. Pure: no clock, no lock, no model.
The scheduler admits a job expected to finish within ADMISSION_MARGIN of its deadline.
"""

from __future__ import annotations

import collections
import heapq
import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueuedWork:
    """A job waiting for slots: its samples and the steps each will take once admitted."""

    samples: int
    steps: float


@dataclass(frozen=True, slots=True)
class Estimate:
    start_s: float  # until the job has its slots
    finish_s: float  # until its last sample is expected to finish


def estimate(
    *,
    slots: int,
    running: list[float],
    queued: list[QueuedWork],
    job: QueuedWork,
    step_s: float,
) -> Estimate:
    """When `job`, queued behind `queued`, starts and finishes. `running`: the steps
    each busy sequence still needs (one entry per busy slot)."""
    if job.samples > slots:
        raise ValueError(f"a job of {job.samples} samples never fits in {slots} slots")
    # Each entry: the step at which a busy slot frees.
    busy = sorted(max(r, 0.0) for r in running)
    free = slots - len(busy)
    if free < 0:
        raise ValueError(f"{len(busy)} running sequences in {slots} slots")
    clock = 0.0
    for work in [*queued, job]:
        while free < work.samples:
            clock = max(clock, heapq.heappop(busy))
            free += 1
        free -= work.samples
        for _ in range(work.samples):
            heapq.heappush(busy, clock + work.steps)
        if work is job:
            return Estimate(start_s=clock * step_s, finish_s=(clock + work.steps) * step_s)
    raise AssertionError("unreachable: the job is the last work replayed")


def job_steps(prompt_tokens: int, prefill_chunk: int, expected_tokens: float) -> float:
    """Steps a job takes once admitted: its prompt chunks, then one step per token."""
    return math.ceil(prompt_tokens / prefill_chunk) + expected_tokens


class RecentMedian:
    """The median of the last `size` samples; None until `least` have come. A median,
    not a mean: the first decode calls of a fresh context are many times slower than
    the rest, and one slow step must not make the agent refuse work for a while."""

    def __init__(self, size: int, *, least: int = 1) -> None:
        if not 1 <= least <= size:
            raise ValueError("need 1 <= least <= size")
        self._least = least
        self._samples: collections.deque[float] = collections.deque(maxlen=size)

    def add(self, sample: float) -> None:
        self._samples.append(sample)

    @property
    def value(self) -> float | None:
        if len(self._samples) < self._least:
            return None
        return statistics.median(self._samples)


class MovingAverage:
    """Exponential moving average; None until the first sample."""

    def __init__(self, weight: float) -> None:
        if not 0 < weight <= 1:
            raise ValueError("weight must be in (0, 1]")
        self._weight = weight
        self.value: float | None = None

    def add(self, sample: float) -> None:
        if self.value is None:
            self.value = sample
        else:
            self.value += self._weight * (sample - self.value)
