"""Which tokens each free slot still holds in its KV cache, and which slots a job takes.

A slot keeps its KV cells when its request finishes. The next request whose prompt
starts with the same tokens — the chat format's preamble and demonstrations, the same
question asked of several voices, a voice's own earlier turn — takes that slot and
prefills only what follows the shared part. A slot that is reused for something else
loses its cache (least recently freed first), so the cache is bounded by the slots and
their context, and a slot's cache never outlives its cells.

Pure bookkeeping: the scheduler removes and copies the KV cells this decides on.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Taken:
    slots: list[int]  # slots[0] prefills the prompt; the others get copies of it
    reused: int  # leading prompt tokens already in slots[0]'s cells


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PrefixCache:
    def __init__(self, slots: int) -> None:
        self._held: dict[int, list[int]] = {slot: [] for slot in range(slots)}
        self._freed_at: dict[int, int] = dict.fromkeys(range(slots), 0)
        self._clock = itertools.count(1)
        self._free: set[int] = set(range(slots))

    @property
    def free(self) -> int:
        return len(self._free)

    def held(self, slot: int) -> list[int]:
        return list(self._held[slot])

    def take(self, prompt: Sequence[int], n: int) -> Taken:
        """`n` free slots for a prompt: first the one that lets it reuse the most, then
        the oldest-freed of the rest. At least one prompt token is always left to
        prefill: its logits start the reply.

        Among slots that give the same reuse, one next to a busy slot wins, then the
        oldest-freed: llama.cpp decodes a step's rows in one pass over the weights only
        for a run of consecutive slots (scheduler.py), so a busy slot between free ones
        costs every step of the run a second pass."""
        if n > len(self._free):
            raise ValueError(f"{n} slots asked, {len(self._free)} free")
        by_age = sorted(self._free, key=lambda s: self._freed_at[s])
        limit = max(len(prompt) - 1, 0)
        reuses = {slot: min(common_prefix(self._held[slot], prompt), limit) for slot in by_age}
        # max keeps the first (oldest) of ties
        first = max(by_age, key=lambda s: (reuses[s], self._busy_neighbours(s)))
        reused = reuses[first]
        rest = [s for s in by_age if s != first][: n - 1]
        for slot in (first, *rest):
            self._free.discard(slot)
        self._held[first] = list(prompt[:reused])
        for slot in rest:
            self._held[slot] = []
        return Taken(slots=[first, *rest], reused=reused)

    def _busy_neighbours(self, slot: int) -> int:
        return sum(
            1 for near in (slot - 1, slot + 1) if near in self._held and near not in self._free
        )

    def give_back(self, slot: int, tokens: Sequence[int]) -> None:
        """`slot` is free again; its cells hold `tokens` (positions 0..len-1)."""
        self._held[slot] = list(tokens)
        self._freed_at[slot] = next(self._clock)
        self._free.add(slot)

    def forget(self, slot: int) -> None:
        """The slot's cells were cleared (a failed step): it holds nothing."""
        self._held[slot] = []
