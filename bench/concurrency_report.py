"""Tables and targets of the concurrency benchmark, from its raw bursts and memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.kernel import KernelSample
from bench.result import BenchResult
from bench.stats import Target, median, ratio
from bench.table import Table, cell
from bench.timing import StreamTiming, aggregate_tps
from bench.workload import CONTEXT_SIZE, MAX_TOKENS, THREADS, BenchError

MiB = 2**20
LABELS = {
    "a": "(a) agent",
    "a_fast": "(a') agent fast",
    "b": "(b) llama_cpp.server",
    "c": "(c) N processes",
}
# Ratios shown for every level: (numerator, denominator).
RATIOS = (("a", "b"), ("a_fast", "b"), ("a", "c"))
THROUGHPUT_TARGETS = {4: 1.8, 8: 2.5}  # (a)/(b) at N concurrent
MEMORY_TARGET = 1.3  # RSS with 4 slots / RSS with 1 slot


@dataclass(frozen=True, slots=True)
class Burst:
    """One measurement: N concurrent streams of one variant in one round."""

    variant: str
    n: int
    round: int
    timings: tuple[StreamTiming, ...]
    cut_short: bool = False  # (c) only: a worker stopped at its deadline

    @property
    def aggregate(self) -> float:
        return aggregate_tps(self.timings)

    def as_dict(self) -> dict[str, object]:
        return {
            "variant": self.variant,
            "n": self.n,
            "round": self.round,
            "aggregate_tps": self.aggregate,
            "cut_short": self.cut_short,
            "streams": [t.as_dict() for t in self.timings],
        }


@dataclass(frozen=True, slots=True)
class Memory:
    by_slots: dict[int, int | None]  # agent slots -> RSS bytes (None: not measured)
    agent: int  # (a), 8 slots, after the throughput runs
    agent_fast: int
    llama_server: int
    per_process: int | None  # median RSS of one (c) worker


def label(x: str, y: str) -> str:
    return f"{LABELS[x].split()[0]}/{LABELS[y].split()[0]}"


def aggregate(bursts: Sequence[Burst], variant: str, n: int) -> float | None:
    return median(b.aggregate for b in bursts if (b.variant, b.n) == (variant, n))


def paired_ratio(bursts: Sequence[Burst], x: str, y: str, n: int) -> float | None:
    """Median over rounds of x/y within a round: the runs of a round are neighbours in
    time, so a slow spell of the machine affects both sides of each ratio."""
    by_key = {(b.variant, b.n, b.round): b for b in bursts}
    rounds = sorted({b.round for b in bursts if b.n == n})
    values = []
    for r in rounds:
        bx, by = by_key.get((x, n, r)), by_key.get((y, n, r))
        values.append(ratio(bx.aggregate, by.aggregate) if bx and by else None)
    return median(values)


def throughput_table(
    bursts: Sequence[Burst],
    levels: Sequence[int],
    repeats: int,
    deadline_s: float,
    agent_slots: int = 8,
) -> Table:
    variants = tuple(LABELS)
    rows = tuple(
        (
            str(n),
            *(cell(aggregate(bursts, v, n), 1) for v in variants),
            *(cell(paired_ratio(bursts, x, y, n), 2) for x, y in RATIOS),
        )
        for n in levels
    )
    cut = sorted({b.n for b in bursts if b.cut_short})
    notes = [
        "Aggregate: all generated tokens / (last token − first request sent); for (c), the "
        "union of the workers' own generation windows (model loads excluded).",
        f"(a), (a'): one process, {agent_slots} slots × {CONTEXT_SIZE} tokens, "
        f"batch-invariant / fast mode; (b), (c): n_ctx {CONTEXT_SIZE}; {THREADS} llama.cpp "
        f"threads in every process; greedy, {MAX_TOKENS} tokens per stream (checked), a raw "
        "prompt per stream.",
        "Ratios: medians over rounds of the ratio within a round.",
    ]
    if cut:
        notes.append(
            f"(c) at N = {', '.join(map(str, cut))}: workers stopped at the {deadline_s:.0f} s "
            f"deadline before {MAX_TOKENS} tokens; the rate counts the tokens they reached."
        )
    rounds = f"{repeats} round{'s' if repeats > 1 else ''}"
    return Table(
        title=f"Aggregate tok/s of N concurrent {MAX_TOKENS}-token generations "
        f"(median of {rounds})",
        columns=("N", *(LABELS[v] for v in variants), *(label(x, y) for x, y in RATIOS)),
        rows=rows,
        notes=tuple(notes),
    )


def kernel_ratio(bursts: Sequence[Burst], kernels: Sequence[KernelSample], n: int) -> float | None:
    """Median over rounds of llama.cpp's own N-row rate over (b)'s, within a round."""
    served = {b.round: b.aggregate for b in bursts if (b.variant, b.n) == ("b", n)}
    return median(ratio(k.tps, served.get(k.round)) for k in kernels if k.n == n)


def kernel_table(
    bursts: Sequence[Burst], kernels: Sequence[KernelSample], levels: Sequence[int]
) -> Table:
    def raw(n: int) -> float | None:
        return median(k.tps for k in kernels if k.n == n)

    rows = tuple(
        (
            str(n),
            cell(raw(n), 1),
            cell(ratio(raw(n), raw(1)), 2),
            cell(kernel_ratio(bursts, kernels, n), 2),
            cell(paired_ratio(bursts, "a", "b", n), 2),
        )
        for n in levels
    )
    return Table(
        title="The ceiling: llama.cpp alone, N rows per llama_decode call",
        columns=("N", "raw tok/s", "× 1 row", "raw / (b)", "(a)/(b) measured"),
        rows=rows,
        notes=(
            "Raw: a process of its own, loaded like the agent's default mode, times "
            "llama_decode calls holding the next token of N sequences (no sampling, no "
            "server); N over the median call time. It runs in the rotation with the "
            "variants, at every level of every round.",
            "raw / (b) is what a batching server with no overhead at all could reach "
            "against (b) in the same round: the ceiling for (a)/(b).",
        ),
    )


def memory_table(memory: Memory, agent_slots: int) -> Table:
    base_slots = min(memory.by_slots)
    base = memory.by_slots[base_slots]

    def row(name: str, rss: int | None) -> tuple[str, str, str]:
        return (name, cell(None if rss is None else rss / MiB, 0), cell(ratio(rss, base), 2))

    rows = [row(f"agent, {k} slot{'s' if k > 1 else ''}", v) for k, v in memory.by_slots.items()]
    rows += [
        row(f"(a) agent, {agent_slots} slots", memory.agent),
        row(f"(a') agent fast, {agent_slots} slots", memory.agent_fast),
        row("(b) llama_cpp.server", memory.llama_server),
        row("(c) one of the N processes", memory.per_process),
    ]
    slots = " and ".join(str(k) for k in memory.by_slots)
    return Table(
        title="Resident memory (RSS)",
        columns=("process", "RSS MiB", f"× {base_slots} slot"),
        rows=tuple(rows),
        notes=(
            f"Agents with {slots} slots × {CONTEXT_SIZE} tokens: RSS after a short generation "
            "on every slot at once. The others: after their throughput runs.",
            "The model file is memory-mapped; its pages count in every process's RSS.",
        ),
    )


def targets(bursts: Sequence[Burst], memory: Memory) -> tuple[Target, ...]:
    low, high = min(memory.by_slots), max(memory.by_slots)
    return (
        *(
            Target(f"(a)/(b) at {n} concurrent", ">=", goal, paired_ratio(bursts, "a", "b", n))
            for n, goal in THROUGHPUT_TARGETS.items()
        ),
        Target(
            f"RSS {high} slots / {low} slot",
            "<=",
            MEMORY_TARGET,
            ratio(memory.by_slots[high], memory.by_slots[low]),
        ),
    )


def summarize(
    bursts: Sequence[Burst],
    kernels: Sequence[KernelSample],
    memory: Memory,
    *,
    levels: Sequence[int],
    repeats: int,
    deadline_s: float,
    agent_slots: int,
    parameters: dict[str, object],
) -> BenchResult:
    if not bursts:
        raise BenchError("nothing was measured")
    return BenchResult(
        name="concurrency",
        title="concurrency: agent service vs llama_cpp.server vs separate processes",
        tables=(
            throughput_table(bursts, levels, repeats, deadline_s, agent_slots),
            *((kernel_table(bursts, kernels, levels),) if kernels else ()),
            memory_table(memory, agent_slots),
        ),
        targets=targets(bursts, memory),
        parameters=parameters,
        measurements={
            "bursts": [b.as_dict() for b in bursts],
            "kernels": [k.as_dict() for k in kernels],
            "rss_bytes": {
                "by_slots": {str(k): v for k, v in memory.by_slots.items()},
                "agent": memory.agent,
                "agent_fast": memory.agent_fast,
                "llama_server": memory.llama_server,
                "per_process": memory.per_process,
            },
        },
    )
