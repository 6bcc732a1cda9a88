"""Services as real processes, for tests that kill or signal them."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence


class ServiceProcess:
    """`conclave COMMAND ARGS...` in a process of its own; ready once it prints its
    "ready on HOST:PORT" line."""

    def __init__(
        self,
        command: str,
        args: Sequence[str],
        *,
        timeout: float = 120.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = command
        env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conclave.cli.main", command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.address = self._wait_for("ready on", timeout)

    def _wait_for(self, marker: str, timeout: float) -> str:
        # A thread reads the pipe: select() would miss lines already in Python's buffer.
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in self.proc.stdout], daemon=True
        ).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if marker in line:
                return line.rsplit(" ", 1)[-1].strip()
        self.kill()
        raise RuntimeError(
            f"{self.command} did not become ready: {self.proc.stderr.read()[-2000:]}"
        )

    def kill(self) -> None:
        """SIGKILL (kill -9): no drain, no cleanup, as a crash or the OOM killer would."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


class AgentProcess(ServiceProcess):
    def __init__(
        self,
        *args: str,
        name: str = "proc-agent",
        timeout: float = 120.0,
        env: dict[str, str] | None = None,
    ) -> None:
        argv = [
            "--host", "127.0.0.1", "--port", "0", "--name", name,
            "--threads", "2", "--context-size", "1024", *args,
        ]  # fmt: skip
        super().__init__(
            "agent",
            argv,
            timeout=timeout,
            env={"CONCLAVE_AGENT_LOG_LEVEL": "WARNING", **(env or {})},
        )


class LeaderProcess(ServiceProcess):
    def __init__(
        self, *args: str, port: int = 0, timeout: float = 60.0, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(
            "leader",
            ["--host", "127.0.0.1", "--port", str(port), *args],
            timeout=timeout,
            env={"CONCLAVE_LEADER_LOG_LEVEL": "WARNING", **(env or {})},
        )


def read_until(proc: subprocess.Popen, pattern: str, *, timeout: float) -> str:
    """Reads the process's output line by line until `pattern` matches; its first group.
    A thread does the reading: select() on the pipe would miss lines already in Python's
    buffer."""
    lines: queue.Queue[str] = getattr(proc, "_lines", None) or _start_reader(proc)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None and lines.empty():
                break
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    raise AssertionError(f"never saw {pattern!r}; output:\n{''.join(seen)[-3000:]}")


def _start_reader(proc: subprocess.Popen) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()
    proc._lines = lines  # type: ignore[attr-defined]
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    return lines
