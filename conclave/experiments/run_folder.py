"""The output folder of one run, and the one owner of its state.

It holds `state.json` (the run's id, leader, dataset, every cell's fingerprint and its
progress), `journal.jsonl` (one line per finished round) and the reports. `RunFolder.open`
starts a new run in an empty folder or resumes the one there, after checking the config
still asks what the rounds already done were asked; after that, only the folder's own
methods change the state, and each change is written at once.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from conclave.experiments.config import Experiment
from conclave.experiments.errors import ConfigError, Issue
from conclave.experiments.journal import JOURNAL, Journal, RunState, read_state, write_state
from conclave.experiments.plan import Cell
from conclave.experiments.report import write_reports
from conclave.experiments.results import ItemResult
from conclave.experiments.stats import CellSummary

Key = tuple[str, str, int]  # (cell, item, repeat)


class RunFolder:
    def __init__(self, path: Path, state: RunState) -> None:
        """Use `open`: it checks that the folder's run fits the experiment."""
        self.path = path
        self._state = state
        self._journal = Journal(path / JOURNAL)

    @classmethod
    def open(cls, experiment: Experiment, path: Path) -> RunFolder:
        """The run in `path`: a new one, or the one there, resumed. Raises ConfigError
        when the experiment changed what that run's rounds were asked."""
        path.mkdir(parents=True, exist_ok=True)
        cells = {c.id: _cell_record(c) for c in experiment.cells}
        dataset = _dataset_record(experiment)
        previous = read_state(path)
        if previous is None:
            state = RunState(
                run_id=RunState.new_run_id(experiment.config.name),
                experiment=experiment.config.name,
                config_path=str(experiment.path),
                leader="",
                db=None,
                dataset=dataset,
                cells=cells,
                seeds=list(experiment.seeds),
            )
        else:
            _check_resumable(previous, experiment, cells, dataset, path)
            dropped = {k: v for k, v in previous.cells.items() if k not in cells}
            state = replace(
                previous,
                cells={**cells, **dropped},  # results of dropped cells stay reported
                seeds=list(experiment.seeds),
                dataset=dataset,
                config_path=str(experiment.path),
            )
        return cls(path, state)

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def run_id(self) -> str:
        """The `experiment` tag of every round of this run."""
        return self._state.run_id

    def results(self, *, decided_only: bool = False) -> dict[Key, ItemResult]:
        """The journal's results by unit key (`decided_only`: those to keep when
        undecided rounds are asked again)."""
        found = {r.key: r for r in self._journal.read()}
        if decided_only:
            found = {k: r for k, r in found.items() if r.status == "decided"}
        return found

    def record(self, result: ItemResult) -> None:
        """Journals one finished round, durably, before the next is recorded."""
        self._journal.append(result)

    def update(self, **changes: Any) -> None:
        """Changes the state (RunState's fields) and writes it."""
        self._state = write_state(self.path, replace(self._state, **changes))

    def write_reports(self, experiment: Experiment) -> list[CellSummary]:
        return write_reports(
            self.path,
            self._state,
            self._journal.read(),
            description=experiment.config.description,
            items=[i.id for i in experiment.dataset.items],
        )


def _dataset_record(experiment: Experiment) -> dict[str, object]:
    return {
        "path": str(experiment.dataset.path),
        "sha256": experiment.dataset.sha256,
        "items": len(experiment.dataset.items),
        "system": experiment.config.dataset.system,
        "template": experiment.config.dataset.template,
    }


def _cell_record(cell: Cell) -> dict[str, object]:
    return {
        "fingerprint": cell.fingerprint(),
        "source": cell.source,
        "strategy": cell.strategy,
        "method": cell.method,
        "samples": cell.samples,
        "params": [list(p) for p in cell.params],
        "participants": list(cell.participants) if cell.participants else None,
        "agent_count": cell.agent_count,
        "max_tokens": cell.max_tokens,
        "temperature": cell.temperature,
    }


def _check_resumable(
    previous: RunState,
    exp: Experiment,
    cells_now: dict[str, dict[str, object]],
    dataset: dict[str, object],
    out_dir: Path,
) -> None:
    """A resumed run may add cells, repeats and items; it may not change what the rounds
    already done were asked (their numbers would be mixed into a different experiment)."""
    issues = []
    if previous.experiment != exp.config.name:
        issues.append(Issue("name", f"{out_dir} holds experiment {previous.experiment!r}"))
    for key in ("sha256", "system", "template"):
        if previous.dataset.get(key) != dataset[key]:
            issues.append(Issue(f"dataset.{'path' if key == 'sha256' else key}", "changed"))
    for cell_id, record in cells_now.items():
        before = previous.cells.get(cell_id)
        if before and before.get("fingerprint") != record["fingerprint"]:
            issues.append(Issue(str(record["source"]), f"cell {cell_id!r} changed"))
    for k, (a, b) in enumerate(zip(previous.seeds, exp.seeds, strict=False)):
        if a != b:
            issues.append(Issue("seeds", f"repeat {k} had seed {a}, now {b}"))
            break
    if issues:
        raise ConfigError(
            [
                *issues,
                Issue(
                    "",
                    "since the run in this folder started; resume with the same config, "
                    "or choose another output folder (--out)",
                ),
            ],
            source=str(out_dir),
        )
