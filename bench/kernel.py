"""The parent's side of bench/kernel_worker.py: llama.cpp's own batched-decode rate."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import ManagedProcess, bench_env
from bench.workload import BenchError

READY_TIMEOUT_S = 180.0
RESULT_TIMEOUT_S = 60.0  # a few dozen calls, on a slow day


@dataclass(frozen=True, slots=True)
class KernelSample:
    round: int
    n: int  # rows per llama_decode call
    tps: float

    def as_dict(self) -> dict[str, object]:
        return {"round": self.round, "n": self.n, "tps": self.tps}


class KernelProcess(ManagedProcess):
    def __init__(self, name: str, log_dir: Path, *, sequences: int) -> None:
        argv = [sys.executable, "-m", "bench.kernel_worker", "--sequences", str(sequences)]
        super().__init__(name, argv, log_dir, env=bench_env(), stdin=True)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        self.wait_for_line("ready", timeout, what="'ready' (model loaded and warmed up)")

    def rate(self, n: int, timeout: float = RESULT_TIMEOUT_S) -> float:
        """Tokens/s of llama_decode calls holding n rows."""
        self.send(f"{n}\n")
        line = self.read_line(time.monotonic() + timeout, what=f"the rate of {n} rows")
        if not line.startswith("result "):
            raise BenchError(f"{self.name}: {line}")
        return float(json.loads(line.removeprefix("result "))["tps"])
