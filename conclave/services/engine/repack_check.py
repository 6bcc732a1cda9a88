"""Whether the fast mode may repack weights on this CPU: asked once of a child process.

Repacked weights (llama.cpp's extra buffer types) run faster kernels, but on some CPUs
those kernels die with SIGSEGV or SIGILL (seen on an AVX-512 Xeon VM; llama.cpp's own
server dies the same way there). A crash in-process would take the blade down, so before
the fast mode loads repacked weights, `repack_child` decodes a few steps with them in a
child. If the child dies, the agent loads the weights plain, says so once in its log, and
GetInfo reports which layout runs and why.

A verdict is cached per CPU model, llama.cpp build and model file (path, size, mtime) in
a small JSON file beside the model cache, so the check costs one model load once per
machine and model, not per start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 300.0  # a slow blade loads and decodes in well under this
VERDICTS_FILE = "repack-check.json"
REPACKED, PLAIN = "repacked", "plain"


@dataclass(frozen=True, slots=True)
class WeightsLayout:
    """How the weights are laid out in memory, and why."""

    name: str  # REPACKED | PLAIN
    reason: str

    @property
    def repacked(self) -> bool:
        return self.name == REPACKED


BATCH_INVARIANT = WeightsLayout(PLAIN, "batch-invariant mode keeps weights plain")


def verdict_key(model_path: Path, cpu_model: str) -> str:
    stat = model_path.stat()
    identity = "|".join(
        (
            cpu_model,
            llama_cpp.__version__,
            str(model_path.resolve()),
            str(stat.st_size),
            str(stat.st_mtime_ns),
        )
    )
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def child_command(model_path: Path, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "conclave.services.engine.repack_child",
        str(model_path),
        str(threads),
    ]


def weights_layout(
    model_path: Path,
    *,
    batch_invariant: bool,
    cpu_model: str,
    threads: int,
    verdicts_dir: Path,
    command: Sequence[str] | None = None,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> WeightsLayout:
    """The layout the engine loads `model_path` with. `command` runs the check (default:
    `repack_child` on this interpreter); exit 0 means repacked weights work here."""
    if batch_invariant:
        return BATCH_INVARIANT
    key = verdict_key(model_path, cpu_model)
    verdicts = _read(verdicts_dir / VERDICTS_FILE)
    if key in verdicts:
        ok, detail = bool(verdicts[key]["ok"]), str(verdicts[key]["detail"])
        return _layout(ok, f"{detail} (self-test on this CPU, cached)")
    ok, detail = _run_check(command or child_command(model_path, threads), timeout_s)
    verdicts[key] = {"ok": ok, "detail": detail, "cpu": cpu_model, "model": str(model_path)}
    _write(verdicts_dir / VERDICTS_FILE, verdicts)
    if not ok:
        log.warning(
            "repacked weights failed a self-test on this CPU (%s): serving %s with plain "
            "weights (the fast mode's shared KV pool stays on)",
            detail,
            model_path.name,
        )
    return _layout(ok, detail)


def _layout(ok: bool, detail: str) -> WeightsLayout:
    if ok:
        return WeightsLayout(REPACKED, detail)
    return WeightsLayout(PLAIN, f"repacked weights failed: {detail}")


def _run_check(command: Sequence[str], timeout_s: float) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            list(command), capture_output=True, timeout=timeout_s, check=False, text=True
        )
    except subprocess.TimeoutExpired:
        return False, f"the self-test did not finish in {timeout_s:.0f} s"
    except OSError as error:
        return False, f"the self-test could not start: {error}"
    if done.returncode == 0:
        return True, "a self-test decoded with repacked weights"
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return False, f"the self-test died of {name}"
    last = (done.stderr.strip().splitlines() or [""])[-1][:200]
    return False, f"the self-test exited with {done.returncode}" + (f": {last}" if last else "")


def _read(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no verdicts yet, or a damaged file: check again
    return data if isinstance(data, dict) else {}


def _write(path: Path, verdicts: dict[str, dict[str, object]]) -> None:
    """Atomically (two agents may start at once); a read-only cache only costs a re-check."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(verdicts, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        log.info("could not save the repack self-test's verdict in %s: %s", path, error)
