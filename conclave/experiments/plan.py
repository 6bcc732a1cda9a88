"""From a checked config to the work: cells (what is compared) and units (one round each).

A cell is one strategy variant (a `strategies:` entry, or one point of its `sweep`),
times one agent count when `agent_counts` is set. A unit is one item of the dataset
asked once in one cell with one seed: repeat k uses seed `seeds[k]`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass

from conclave.experiments.datasets import Item
from conclave.experiments.knobs import ParamValue, as_wire
from conclave.experiments.schema import ExperimentConfig, StrategySpec


@dataclass(frozen=True, slots=True)
class Cell:
    id: str
    source: str  # where the config defines it, e.g. "strategies[1]": for error messages
    strategy: str
    method: str
    samples: int
    params: tuple[tuple[str, str], ...]  # sorted, as the leader receives them
    participants: tuple[str, ...] | None  # explicit names; None: the leader's participants
    agent_count: int | None  # the first N of those participants; None: all of them
    max_tokens: int
    temperature: float
    top_p: float | None
    stop: tuple[str, ...]
    quorum: int | None
    participant_timeout_s: float | None

    def fingerprint(self) -> str:
        """Everything that shapes the cell's requests: a resumed run refuses to mix rounds
        of a cell whose definition changed."""
        fields = asdict(self)
        del fields["id"], fields["source"]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Unit:
    cell: Cell
    item: Item
    repeat: int
    seed: int

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.cell.id, self.item.id, self.repeat)


def seeds_of(config: ExperimentConfig) -> list[int]:
    if config.seeds is not None:
        return list(config.seeds)
    return [config.seed + k for k in range(config.repeats)]


def sweep_points(spec: StrategySpec) -> list[dict[str, ParamValue]]:
    """Every combination of the sweep's values, in the order written ([{}] without one)."""
    keys = list(spec.sweep)
    combos = itertools.product(*spec.sweep.values())
    return [dict(zip(keys, combo, strict=True)) for combo in combos]


def apply_point(spec: StrategySpec, point: dict[str, ParamValue]) -> StrategySpec:
    """The variant at one sweep point (unchecked: the config validates it)."""
    fields = spec.model_dump(exclude={"sweep"})
    params = dict(fields.pop("params"))
    for key, value in point.items():
        if key.startswith("params."):
            params[key.removeprefix("params.")] = value
        else:
            fields[key] = value
    return type(spec).model_validate({**fields, "params": params})


# How answers are read, not what the team does: left out of generated cell names (two
# cells differing only here clash, and the config check asks for explicit ids).
_UNNAMED = frozenset({"extract"})


def variant_id(spec: StrategySpec, point: dict[str, ParamValue]) -> str:
    if spec.id:
        base = spec.id
    else:
        base = spec.strategy
        if spec.method != "majority":
            base += f"-{spec.method}"
        if spec.samples != 1 and "samples" not in point:
            base += f"-s{spec.samples}"
        for key, value in sorted(spec.params.items()):
            if f"params.{key}" not in point and key not in _UNNAMED:
                base += f"-{key}={as_wire(value)}"
    for key, value in point.items():
        if key == "samples":
            base += f"-s{value}"
        elif key == "method":
            base += f"-{value}"
        else:
            base += f"-{key.removeprefix('params.')}={as_wire(value)}"
    return base


def cells_of(config: ExperimentConfig) -> list[Cell]:
    """Every cell, in config order. Assumes a checked config (see config.check)."""
    cells = []
    for i, spec in enumerate(config.strategies):
        for point in sweep_points(spec):
            variant = apply_point(spec, point)
            name = variant_id(spec, point)
            # An entry's own `voices` is its one count: named by the entry, not per count.
            counts = [variant.voices] if variant.voices else (config.agent_counts or [None])
            for count in counts:
                cells.append(
                    Cell(
                        id=name if count is None or variant.voices else f"{name}-n{count}",
                        source=f"strategies[{i}]",
                        strategy=variant.strategy,
                        method=variant.method,
                        samples=variant.samples,
                        params=tuple(sorted((k, as_wire(v)) for k, v in variant.params.items())),
                        participants=tuple(variant.participants) if variant.participants else None,
                        agent_count=count,
                        max_tokens=variant.max_tokens or config.max_tokens,
                        temperature=variant.temperature
                        if variant.temperature is not None
                        else config.temperature,
                        top_p=config.top_p,
                        stop=tuple(config.stop),
                        quorum=config.quorum,
                        participant_timeout_s=config.participant_timeout_s,
                    )
                )
    return cells


def units_of(cells: list[Cell], items: tuple[Item, ...], seeds: list[int]) -> list[Unit]:
    """Cell by cell, repeat by repeat, item by item: a cell's numbers are complete early,
    and an interrupted run has whole cells to show."""
    return [
        Unit(cell, item, k, seed)
        for cell in cells
        for k, seed in enumerate(seeds)
        for item in items
    ]
