"""Tables and targets of vs_llama_server, from its raw measurements (pure arithmetic)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from bench.concurrency_report import Burst, paired_ratio
from bench.stats import Target, median, ratio
from bench.table import Table, cell

# Variants, in table order. "plain": llama-server on the agent's default kernels
# (--no-repack, tiled kernel off, flash attention on); without it, its own defaults.
AGENT, AGENT_FAST, SERVER, SERVER_PLAIN = (
    "agent",
    "agent_fast",
    "llama_server",
    "llama_server_plain",
)
LABELS = {
    AGENT: "agent",
    AGENT_FAST: "agent fast",
    SERVER: "llama-server",
    SERVER_PLAIN: "llama-server plain",
}
AGENTS = (AGENT, AGENT_FAST)
# (numerator, denominator). The first two pair the same kernels: what the agent's
# scheduling and gRPC cost. The third is what a user would compare: both as shipped.
STREAM_RATIOS = ((AGENT, SERVER_PLAIN), (AGENT_FAST, SERVER), (AGENT, SERVER))
SAME_KERNELS = STREAM_RATIOS[:2]
STREAM_TARGET = 0.95  # agent / llama-server aggregate tok/s, same kernels, every level
ROUND_RATIOS = ((AGENT, SERVER), (AGENT_FAST, SERVER), (AGENT, SERVER_PLAIN))
ROUND_TARGET = 0.8  # agent / llama-server round wall time


def ratio_label(x: str, y: str) -> str:
    return f"{LABELS[x]} / {LABELS[y]}"


@dataclass(frozen=True, slots=True)
class Reply:
    """One generation of the round workload, as either server reported it."""

    text: str
    prompt_tokens: int  # the whole prompt
    cached_tokens: int  # of those, taken from the server's cache (not prefilled)
    completion_tokens: int
    sent: float  # time.monotonic() instants
    first: float
    end: float

    @property
    def prefilled(self) -> int:
        return self.prompt_tokens - self.cached_tokens

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "prefilled": self.prefilled}


@dataclass(frozen=True, slots=True)
class RoundSample:
    """One round (first turn + critique turn of every voice) on one variant."""

    variant: str
    question: int
    wall_s: float
    replies: tuple[Reply, ...]  # first turn's, then the critique turn's
    # The agent's own counters (GetInfo deltas over the round); None for llama-server.
    info_prefilled: int | None = None
    info_cached: int | None = None

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.replies)

    @property
    def cached_tokens(self) -> int:
        return sum(r.cached_tokens for r in self.replies)

    @property
    def prefilled(self) -> int:
        return sum(r.prefilled for r in self.replies)

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.replies)

    def as_dict(self) -> dict[str, object]:
        return {
            "variant": self.variant,
            "question": self.question,
            "wall_s": self.wall_s,
            "info_prefilled": self.info_prefilled,
            "info_cached": self.info_cached,
            "replies": [r.as_dict() for r in self.replies],
        }


def aggregate(bursts: Sequence[Burst], variant: str, n: int) -> float | None:
    return median(b.aggregate for b in bursts if (b.variant, b.n) == (variant, n))


def median_ttft_ms(bursts: Sequence[Burst], variant: str, n: int) -> float | None:
    """Median over every stream of every burst of that variant and level."""
    return median(t.ttft_ms for b in bursts if (b.variant, b.n) == (variant, n) for t in b.timings)


def streams_table(
    bursts: Sequence[Burst], levels: Sequence[int], variants: Sequence[str], rounds: int
) -> Table:
    ratios = [(x, y) for x, y in STREAM_RATIOS if x in variants and y in variants]
    rows = tuple(
        (
            str(n),
            *(cell(aggregate(bursts, v, n), 1) for v in variants),
            *(cell(paired_ratio(bursts, x, y, n), 2) for x, y in ratios),
        )
        for n in levels
    )
    return Table(
        title=f"Aggregate tok/s of N concurrent streams (median of {rounds} rounds)",
        columns=("N", *(LABELS[v] for v in variants), *(ratio_label(x, y) for x, y in ratios)),
        rows=rows,
        notes=(
            "Aggregate: all generated tokens / (last token − first request sent). Tokens "
            "are each server's own count (the agent's deltas, llama-server's "
            "timings.predicted_n), checked to be exactly max_tokens.",
            "Ratios: medians over rounds of the ratio within a round (neighbours in time).",
        ),
    )


def ttft_table(bursts: Sequence[Burst], levels: Sequence[int], variants: Sequence[str]) -> Table:
    rows = tuple(
        (str(n), *(cell(median_ttft_ms(bursts, v, n), 1) for v in variants)) for n in levels
    )
    return Table(
        title="Median time to first token, ms (every stream of every round)",
        columns=("N", *(LABELS[v] for v in variants)),
        rows=rows,
    )


def hit_rate(samples: Sequence[RoundSample]) -> float | None:
    """Cached prompt tokens / all prompt tokens over the samples."""
    return ratio(sum(s.cached_tokens for s in samples), sum(s.prompt_tokens for s in samples))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def paired_round_ratio(samples: Sequence[RoundSample], x: str, y: str) -> float | None:
    """Median over questions of x's round wall time over y's on the same question."""
    walls = {(s.variant, s.question): s.wall_s for s in samples}
    questions = sorted({s.question for s in samples})
    return median(ratio(walls.get((x, q)), walls.get((y, q))) for q in questions)


def rounds_table(samples: Sequence[RoundSample], variants: Sequence[str], voices: int) -> Table:
    rows = []
    for v in variants:
        mine = [s for s in samples if s.variant == v]
        info = [s.info_prefilled for s in mine if s.info_prefilled is not None]
        rows.append(
            (
                LABELS[v],
                cell(median(s.wall_s * 1000.0 for s in mine), 0),
                cell(_mean([s.prompt_tokens for s in mine]), 0),
                cell(_mean([s.prefilled for s in mine]), 0),
                cell(_mean([s.cached_tokens for s in mine]), 0),
                cell(None if (h := hit_rate(mine)) is None else h * 100.0, 0),
                cell(_mean(info) if info else None, 0),
                cell(_mean([s.completion_tokens for s in mine]), 0),
                cell(len(mine)),
            )
        )
    return Table(
        title=f"Round workload: {voices} voices × one question, then one critique turn",
        columns=(
            "server",
            "round wall ms (median)",
            "prompt tok / round",
            "prefilled / round",
            "cached / round",
            "hit rate %",
            "prefilled / round (GetInfo)",
            "completion tok / round",
            "rounds",
        ),
        rows=tuple(rows),
        notes=(
            "Per round: the voices' first turns sent together, then, from their answers, "
            "the critique prompts Conclave's leader builds, sent together. Means per "
            "round over the questions.",
            "Prefilled = prompt − cached, from each reply: the agent's usage "
            "(cached_prompt_tokens), llama-server's timings (prompt_n prefilled, cache_n "
            "cached). GetInfo: the agent's prompt_tokens_prefilled_total over the round.",
        ),
    )


def round_ratio_table(samples: Sequence[RoundSample], variants: Sequence[str]) -> Table:
    pairs = [(x, y) for x, y in ROUND_RATIOS if x in variants and y in variants]
    return Table(
        title="Round wall time ratios (median over questions of the ratio on one question)",
        columns=("ratio", "value"),
        rows=tuple(
            (ratio_label(x, y), cell(paired_round_ratio(samples, x, y), 2)) for x, y in pairs
        ),
    )


def targets(
    bursts: Sequence[Burst], samples: Sequence[RoundSample], levels: Sequence[int]
) -> tuple[Target, ...]:
    found: list[Target] = []
    for x, y in SAME_KERNELS:
        for n in levels:
            found.append(
                Target(
                    f"{ratio_label(x, y)} tok/s, N={n}",
                    ">=",
                    STREAM_TARGET,
                    paired_ratio(bursts, x, y, n),
                )
            )
    if samples:
        x, y = ROUND_RATIOS[0]
        found.append(
            Target(
                f"{ratio_label(x, y)} round wall time",
                "<=",
                ROUND_TARGET,
                paired_round_ratio(samples, x, y),
            )
        )
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Side:
    """How one variant ran: what the results must say to be read fairly."""

    variant: str
    build: str  # the llama.cpp build and its CPU features
    weights: str  # repacked | plain, and why
    kernels: str  # the other switches that change the kernels
    threads: int
    slots: int
    context_per_slot: int | None  # as the server reports it (None: not reported)


def cpu_features_notes(wheel: str, server: str) -> tuple[str, ...]:
    """Both builds' CPU feature lines, and whether they match (the kernels follow them)."""
    verdict = "the same" if wheel.strip() == server.strip() else "DIFFERENT: kernels differ"
    return (
        f"CPU features, agent's wheel: {wheel}",
        f"CPU features, llama-server: {server}",
        f"The two builds' CPU features are {verdict}.",
    )


def setup_table(sides: Sequence[Side], notes: Sequence[str] = ()) -> Table:
    return Table(
        notes=tuple(notes),
        title="How each side ran",
        columns=(
            "server",
            "llama.cpp build",
            "weights",
            "kernels",
            "threads",
            "slots",
            "ctx / slot",
        ),
        rows=tuple(
            (
                LABELS[s.variant],
                s.build,
                s.weights,
                s.kernels,
                str(s.threads),
                str(s.slots),
                cell(s.context_per_slot),
            )
            for s in sides
        ),
        align=("left", "left", "left", "left", "right", "right", "right"),
    )
