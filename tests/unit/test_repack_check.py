"""The fast mode's repack self-test: a child that crashes leaves the weights plain, a
verdict is kept per CPU and model file, and batch-invariant mode never asks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conclave.services.engine.repack_check import (
    PLAIN,
    REPACKED,
    VERDICTS_FILE,
    verdict_key,
    weights_layout,
)

CRASH = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
PASS = [sys.executable, "-c", "pass"]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF not really")
    return path


def layout(model: Path, verdicts: Path, command: list[str], **kw):
    return weights_layout(
        model,
        batch_invariant=kw.pop("batch_invariant", False),
        cpu_model=kw.pop("cpu_model", "Test CPU"),
        threads=2,
        verdicts_dir=verdicts,
        command=command,
        **kw,
    )


def test_a_child_that_crashes_leaves_the_weights_plain(model, tmp_path):
    got = layout(model, tmp_path / "v", CRASH)
    assert got.name == PLAIN and not got.repacked
    assert "SIGSEGV" in got.reason


def test_a_child_that_decodes_lets_the_weights_be_repacked(model, tmp_path):
    got = layout(model, tmp_path / "v", PASS)
    assert got.name == REPACKED and got.repacked


def test_the_verdict_is_cached_per_cpu_and_model_file(model, tmp_path):
    verdicts = tmp_path / "v"
    layout(model, verdicts, CRASH)
    again = layout(model, verdicts, PASS)  # not run: the crash is remembered
    assert again.name == PLAIN and "cached" in again.reason and "SIGSEGV" in again.reason
    other_cpu = layout(model, verdicts, PASS, cpu_model="Another CPU")
    assert other_cpu.name == REPACKED
    model.write_bytes(b"GGUF another file now")  # a new file (size, mtime) asks again
    assert layout(model, verdicts, PASS).name == REPACKED
    saved = json.loads((verdicts / VERDICTS_FILE).read_text())
    assert saved[verdict_key(model, "Test CPU")]["ok"] is True


def test_a_child_that_fails_or_hangs_says_how(model, tmp_path):
    failed = [sys.executable, "-c", "import sys; sys.exit('no context for you')"]
    got = layout(model, tmp_path / "a", failed)
    assert got.name == PLAIN and "exited with 1: no context for you" in got.reason
    slow = [sys.executable, "-c", "import time; time.sleep(30)"]
    got = layout(model, tmp_path / "b", slow, timeout_s=0.5)
    assert got.name == PLAIN and "did not finish" in got.reason


def test_batch_invariant_mode_never_runs_the_check(model, tmp_path):
    got = layout(model, tmp_path / "v", CRASH, batch_invariant=True)
    assert got.name == PLAIN and "batch-invariant" in got.reason
    assert not (tmp_path / "v").exists()


def test_a_damaged_verdicts_file_is_checked_again(model, tmp_path):
    verdicts = tmp_path / "v"
    verdicts.mkdir()
    (verdicts / VERDICTS_FILE).write_text("{not json")
    assert layout(model, verdicts, PASS).name == REPACKED
