"""The experiment config: a YAML file, checked whole before any round runs.

Types and unknown keys are pydantic's job (`schema`, `extra="forbid"` everywhere); names
the leader would reject (strategy, method, params knobs, personas), the dataset and the cell
plan are checked here, once the shape is right. Each pass reports every problem it finds
at once, each at its key path, e.g.
`strategies[1].params.critique_rounds: must be between 0 and 8, got 12`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from conclave.experiments import knobs
from conclave.experiments.datasets import Dataset, load_dataset
from conclave.experiments.errors import ConfigError, Issue
from conclave.experiments.plan import Cell, apply_point, cells_of, seeds_of, sweep_points
from conclave.experiments.schema import ExperimentConfig, StrategySpec
from conclave.experiments.validation import issues_from

SWEEPABLE = ("samples", "method", "max_tokens", "temperature")


@dataclass(frozen=True)
class Experiment:
    """A config with everything it names loaded and checked."""

    config: ExperimentConfig
    path: Path  # the YAML file
    dataset: Dataset
    cells: tuple[Cell, ...]
    seeds: tuple[int, ...]

    @property
    def leader(self) -> str | None:
        return self.config.leader

    def output_dir(self, override: Path | None = None) -> Path:
        return override or self.config.output or Path("runs") / self.config.name


def load_experiment(path: Path, *, leader: str | None = None) -> Experiment:
    """Reads, validates and plans `path`; `leader` overrides the config's address.
    Raises ConfigError listing every problem; nothing talks to the network."""
    path = Path(path)
    source = str(path)
    data = _read_yaml(path)
    if isinstance(data, dict) and "name" not in data:
        # The file names the experiment by default.
        data = {"name": re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._") or "x", **data}
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(issues_from(error, root=ExperimentConfig), source=source) from None
    if leader:
        config = config.model_copy(update={"leader": leader})
    issues = check(config)
    dataset = None
    try:
        dataset = load_dataset(config.dataset, path.parent)
    except ConfigError as error:
        issues += error.issues
    if issues or dataset is None:
        raise ConfigError(issues, source=source)
    cells = cells_of(config)
    clashes = _clashes(cells)
    if clashes:
        raise ConfigError(clashes, source=source)
    return Experiment(config, path, dataset, tuple(cells), tuple(seeds_of(config)))


def _read_yaml(path: Path) -> object:
    if not path.is_file():
        raise ConfigError([Issue("", f"no such config file: {path}")])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "yaml"
        raise ConfigError([Issue(where, f"not valid YAML: {error}")], source=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError([Issue("", "the file must hold a mapping of keys")], source=str(path))
    return data


def check(config: ExperimentConfig) -> list[Issue]:
    """What pydantic cannot see: names the leader knows, knob values, consistency."""
    issues: list[Issue] = []
    for i, spec in enumerate(config.strategies):
        issues += _check_strategy(config, spec, i)
    seeds = config.seeds
    if seeds is not None and "repeats" in config.model_fields_set and config.repeats != len(seeds):
        issues.append(Issue("repeats", f"{config.repeats} repeats but {len(seeds)} seeds"))
    if config.leader is None and not config.participants.any:
        issues.append(
            Issue(
                "participants",
                "no `leader` address and no participants to start a leader with: set `leader`"
                " (or --leader), or participants.agents / named / discover / embedded",
            )
        )
    return issues


def _check_strategy(config: ExperimentConfig, spec: StrategySpec, i: int) -> list[Issue]:
    issues = _check_variant(config, spec, f"strategies[{i}]")
    for key in spec.sweep:
        at = f"strategies[{i}].sweep.{key}"
        if key not in SWEEPABLE and not key.startswith("params."):
            issues.append(Issue(at, f"not sweepable; use {', '.join(SWEEPABLE)} or params.X"))
        elif key.startswith("params.") and key.removeprefix("params.") in spec.params:
            issues.append(Issue(at, f"also set in strategies[{i}].params"))
    if issues or not spec.sweep:
        return issues
    for point in sweep_points(spec):
        # Each point is a variant of its own: check it as if it were written out.
        where = f"strategies[{i}].sweep(" + ", ".join(f"{k}={v}" for k, v in point.items()) + ")"
        try:
            variant = apply_point(spec, point)
        except ValidationError as error:
            issues += issues_from(error, where=where)
            continue
        found = _check_variant(config, variant, "")
        issues += [Issue(f"{where}: {x.path}", x.message) for x in found]
    return issues


def _check_variant(config: ExperimentConfig, spec: StrategySpec, at: str) -> list[Issue]:
    def key(name: str) -> str:
        return f"{at}.{name}" if at else name

    issues = []
    problem = knobs.check_strategy(spec.strategy)
    if problem:
        issues.append(Issue(key("strategy"), problem))
    problem = knobs.check_method(spec.method)
    if problem:
        issues.append(Issue(key("method"), problem))
    if knobs.check_strategy(spec.strategy) is None:
        for name, message in knobs.check_params(spec.strategy, spec.params):
            issues.append(Issue(key(f"params.{name}"), message))
    if spec.strategy == "moa" and (config.quorum or 1) > 1:
        issues.append(Issue(key("strategy"), "moa decides by one aggregator: quorum must be 1"))
    if spec.participants and spec.voices and spec.voices > len(spec.participants):
        issues.append(
            Issue(
                key("voices"),
                f"asks for {spec.voices} of the {len(spec.participants)} participants named",
            )
        )
    if spec.participants and config.agent_counts and not spec.voices:
        too_many = [n for n in config.agent_counts if n > len(spec.participants)]
        if too_many:
            issues.append(
                Issue(
                    key("participants"),
                    f"names {len(spec.participants)} participants; agent_counts asks "
                    f"{max(too_many)}",
                )
            )
    return issues


def _clashes(cells: list[Cell]) -> list[Issue]:
    counts = Counter(c.id for c in cells)
    issues = []
    for cell_id, n in counts.items():
        if n > 1:
            sources = sorted({c.source for c in cells if c.id == cell_id})
            issues.append(
                Issue(
                    " and ".join(sources),
                    f"{n} cells are named {cell_id!r}; give the strategies distinct `id`s",
                )
            )
    return issues
