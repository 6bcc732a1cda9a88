"""Subprocesses the benchmarks start: servers and workers, every wait bounded.

A process's stdout is read line by line by a thread (so waiting for a line has a
timeout); its stderr goes to a log file whose tail explains a failure.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import psutil

from bench.workload import HOST, BenchError

STOP_TIMEOUT_S = 20.0


def bench_env() -> dict[str, str]:
    """Environment for a `python -m bench.<worker>` subprocess: it imports `bench`, wherever
    the benchmark was started from."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root}


def free_port(host: str = HOST) -> int:
    """A port that was free a moment ago: for servers that cannot bind port 0 and report
    it (llama_cpp.server). The short race is acceptable on a benchmark machine."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ManagedProcess:
    """One subprocess with a line queue on its stdout and its stderr in `log_path`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        stdin: bool = False,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self._env = {**os.environ, **(env or {})}
        self._stdin = stdin
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._proc: subprocess.Popen[str] | None = None

    @property
    def proc(self) -> subprocess.Popen[str]:
        if self._proc is None:
            raise BenchError(f"{self.name} was not started")
        return self._proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self) -> None:
        with self.log_path.open("w", encoding="utf-8") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE if self._stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self._env,
                text=True,
                bufsize=1,
            )
        threading.Thread(target=self._pump, name=f"{self.name}-stdout", daemon=True).start()

    def _pump(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        for line in stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # end of output: the process is exiting

    def read_line(self, deadline: float, *, what: str) -> str:
        """The next stdout line, or BenchError by `deadline` (time.monotonic)."""
        try:
            line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            raise BenchError(f"{self.name}: no {what} in time. {self.log_tail()}") from None
        if line is None:
            raise BenchError(
                f"{self.name} exited ({self.proc.wait()}) before {what}. {self.log_tail()}"
            )
        return line

    def wait_for_line(self, prefix: str, timeout: float, *, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.read_line(deadline, what=what)
            if line.startswith(prefix):
                return line

    def send(self, text: str) -> None:
        stdin = self.proc.stdin
        if stdin is None:
            raise BenchError(f"{self.name} has no stdin")
        stdin.write(text)
        stdin.flush()

    def rss_bytes(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    def wait_http_ok(self, url: str, timeout: float) -> None:
        """Polls `url` until it answers 200 (a server loading its model answers otherwise
        or not at all); fails at once if the process exits."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError(f"{self.name} exited early. {self.log_tail()}")
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                time.sleep(0.25)
        raise BenchError(f"{self.name} not ready in {timeout:.0f} s. {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return "Last lines of its log:\n" + "\n".join(tail[-lines:])

    def terminate(self) -> None:
        """SIGTERM without waiting: servers drain, then exit."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ProcessGroup:
    """Processes stopped together, whatever happens; started together so that their
    model loads overlap (loading is not what we measure)."""

    def __init__(self, *procs: ManagedProcess) -> None:
        self.procs = list(procs)

    def __enter__(self) -> ProcessGroup:
        try:
            for p in self.procs:
                p.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        # Signal all first, then wait: they drain in parallel.
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.stop()
