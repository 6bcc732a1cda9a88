"""The parent's side of bench/kernel_worker.py: llama.cpp's own batched-decode rates."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.procs import ManagedProcess, bench_env

RESULT_TIMEOUT_S = 240.0  # model load plus a few dozen calls, on a slow day


@dataclass(frozen=True, slots=True)
class KernelRun:
    round: int
    rates: dict[int, float]  # rows per llama_decode call -> tokens/s

    def as_dict(self) -> dict[str, object]:
        return {"round": self.round, "rates": {str(n): r for n, r in self.rates.items()}}


def measure_kernels(rows: Sequence[int], logs: Path, round_: int) -> KernelRun:
    argv = [sys.executable, "-m", "bench.kernel_worker", "--rows", ",".join(map(str, rows))]
    with ManagedProcess(f"kernel-{round_}", argv, logs, env=bench_env()) as worker:
        worker.start()
        line = worker.wait_for_line("result ", RESULT_TIMEOUT_S, what="its result")
    rates = json.loads(line.removeprefix("result "))
    return KernelRun(round_, {int(n): float(r) for n, r in rates.items()})
