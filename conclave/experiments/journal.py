"""What a run has done, on disk, so a killed run resumes without redoing a round.

`journal.jsonl` gets one line per finished round, flushed and fsynced before the next
is recorded; a line cut short by a kill is ignored on reading. `state.json` describes
the run (its id, the leader, the dataset and every cell's fingerprint) and is replaced
atomically.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conclave.experiments.results import ItemResult

log = logging.getLogger(__name__)

JOURNAL = "journal.jsonl"
STATE = "state.json"
STATE_VERSION = 1


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def read(self) -> list[ItemResult]:
        """Every complete line; the last result of a key wins (a re-run failed round)."""
        if not self.path.exists():
            return []
        latest: dict[tuple[str, str, int], ItemResult] = {}
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                result = ItemResult.from_json(json.loads(line))
            except (json.JSONDecodeError, TypeError) as error:
                # A kill in the middle of a write leaves half a line: that round is redone.
                log.warning("%s:%d: unreadable line skipped (%s)", self.path, n, error)
                continue
            latest[result.key] = result
        return list(latest.values())

    def append(self, result: ItemResult) -> None:
        line = json.dumps(result.to_json(), ensure_ascii=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())


@dataclass(frozen=True)
class RunState:
    run_id: str  # the `experiment` tag of every round of this run
    experiment: str
    config_path: str
    leader: str  # address, or "in-process"
    db: str | None  # the in-process leader's round store
    dataset: dict[str, Any]
    cells: dict[str, dict[str, Any]]
    seeds: list[int]
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    status: str = "running"  # "running" | "complete" | "incomplete"
    units: int = 0
    done: int = 0

    @staticmethod
    def new_run_id(experiment: str) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        return f"{experiment}-{stamp}-{secrets.token_hex(3)}"

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **self.__dict__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        data = dict(data)
        data.pop("version", None)
        return cls(**data)


def read_state(out_dir: Path) -> RunState | None:
    path = out_dir / STATE
    if not path.exists():
        return None
    return RunState.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_state(out_dir: Path, state: RunState) -> RunState:
    """Writes `state` stamped with the time; returns the stamped state."""
    state = replace(state, updated_at=time.time())
    path = out_dir / STATE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # readers (`experiment show`) never see half a file
    return state
