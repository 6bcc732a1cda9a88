"""`/v1/experiments`: the experiment runs in the folder the gateway is told about
(`experiments_dir`), read from their files — the gateway never runs an experiment.

A run is a sub-folder holding `state.json` (what `conclave experiment run` writes into
its output folder); its tables and plots are the report files next to it. The file
names are the run folder's (`conclave.experiments.report`); the gateway sits below the
experiments layer, so a unit test keeps the two lists the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conclave.errors import InvalidRequest, NotFound

STATE = "state.json"
SUMMARY = "summary.json"
# What a page may fetch from a run, by name and media type: its reports, nothing else
# (not the round store, not the journal's private state).
SERVED = {
    "summary.json": "application/json",
    "summary.csv": "text/csv; charset=utf-8",
    "items.json": "application/json",
    "items.csv": "text/csv; charset=utf-8",
    "report.md": "text/markdown; charset=utf-8",
    "accuracy_vs_tokens.png": "image/png",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ExperimentFolder:
    """Reads the runs under `root`; `root` None: none configured (every call says so)."""

    def __init__(self, root: Path | None) -> None:
        self._root = root

    def runs(self) -> list[dict[str, Any]]:
        root = self._folder()
        found = [p for p in sorted(root.iterdir()) if (p / STATE).is_file()]
        return [self._summary(p) for p in found]

    def run(self, name: str) -> dict[str, Any]:
        path = self._run_path(name)
        return {
            **self._summary(path),
            "cells": self._cells(path),
            "state": _read_json(path / STATE),
        }

    def file(self, name: str, file: str) -> tuple[Path, str]:
        """The path of one report file of a run and its media type."""
        if file not in SERVED:
            raise NotFound(f"no file {file!r} is served from a run; one of: {', '.join(SERVED)}")
        path = self._run_path(name) / file
        if not path.is_file():
            raise NotFound(f"run {name!r} has no {file} (yet)")
        return path, SERVED[file]

    def _folder(self) -> Path:
        if self._root is None:
            raise NotFound(
                "no experiments folder: start the gateway with --experiments-dir DIR "
                "(CONCLAVE_GATEWAY_EXPERIMENTS_DIR)"
            )
        return self._root

    def _run_path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise InvalidRequest(f"bad run name {name!r}", field="name")
        path = self._folder() / name  # one plain segment: never outside the folder
        if not (path / STATE).is_file():
            raise NotFound(f"no experiment run {name!r} in the experiments folder")
        return path

    def _summary(self, path: Path) -> dict[str, Any]:
        state = _read_json(path / STATE)
        return {
            "name": path.name,
            "run_id": state.get("run_id", ""),
            "experiment": state.get("experiment", ""),
            "leader": state.get("leader", ""),
            "cell_count": len(state.get("cells", {})),
            "modified": (path / STATE).stat().st_mtime,
            "files": [f for f in SERVED if (path / f).is_file()],
        }

    def _cells(self, path: Path) -> list[dict[str, Any]]:
        summary = path / SUMMARY
        return _read_json(summary).get("cells", []) if summary.is_file() else []


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        # A run being written (or a broken file) is a gap on the page, not a crash.
        return {"error": f"{path.name}: {error}"}
    return value if isinstance(value, dict) else {}
