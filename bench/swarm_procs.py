"""The leader and the gateway as real subprocesses, started as a user starts them."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from bench.agent_server import conclave_command
from bench.procs import ManagedProcess, free_port
from bench.workload import HOST, BenchError

LEADER_READY = "conclave leader ready on "
READY_TIMEOUT_S = 60.0


class LeaderProcess(ManagedProcess):
    def __init__(
        self, agents: list[str], db: Path, log_dir: Path, *, voices: int, config: Path | None = None
    ) -> None:
        """`config`: a leader config file (named participants with their own settings)."""
        argv = [
            *conclave_command(), "leader", "--host", HOST, "--port", "0",
            "--agents", ",".join(agents), "--participants-per-agent", str(voices),
            "--db", str(db), "--log-level", "WARNING",
            *(["--config", str(config)] if config is not None else []),
        ]  # fmt: skip
        super().__init__("leader", argv, log_dir)
        self.address = ""

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> str:
        line = self.wait_for_line(LEADER_READY, timeout, what="'ready' line")
        self.address = line.removeprefix(LEADER_READY).strip()
        return self.address


class GatewayProcess(ManagedProcess):
    def __init__(
        self, leader: str, log_dir: Path, *, max_concurrent: int = 64, ui: bool = True
    ) -> None:
        self.port = free_port()
        argv = [
            *conclave_command(),
            "gateway",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--leader",
            leader,
            "--log-level",
            "WARNING",
        ]
        env = {
            "CONCLAVE_GATEWAY_MAX_CONCURRENT": str(max_concurrent),
            "CONCLAVE_GATEWAY_UI": "true" if ui else "false",
        }
        super().__init__("gateway" if ui else "gateway-no-ui", argv, log_dir, env=env)
        self.url = f"http://{HOST}:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gateway exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise BenchError(f"gateway not healthy within {timeout:.0f} s: {self.log_tail()}")
