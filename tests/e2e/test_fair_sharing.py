"""Agents that share one machine share its cores: `conclave up --agents 2` splits the
decode threads between them, and each agent reports its share in GetInfo."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

from conclave.services.hardware import detect_hardware
from conclave.services.recommend import threads_per_agent
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TOKEN = "fair-sharing-test-token"
AGENTS_LINE = re.compile(r"agents \(gRPC\)\s+(\S.*\S)\s+\((\d+) decode thread\(s\) each\)")


def _wait_for_line(lines: queue.Queue[str], pattern: re.Pattern, proc, timeout: float):
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if match := pattern.search(line):
            return match
    raise AssertionError(f"never saw {pattern.pattern!r}; output:\n{''.join(seen)[-3000:]}")


def test_conclave_up_splits_the_cores_between_its_agents(tmp_path):
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "conclave.cli.main", "up", "--agents", "2"),
            *("--port", "0", "--leader-port", "0", "--agent-port", "0", "--slots", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path), "CONCLAVE_SWARM_TOKEN": TOKEN},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        match = _wait_for_line(lines, AGENTS_LINE, proc, timeout=300)
        addresses = [a.split()[0] for a in match.group(1).split(",")]  # "HOST:PORT (here)"
        expected = threads_per_agent(detect_hardware(), 2)
        assert int(match.group(2)) == expected and len(addresses) == 2
        for address in addresses:
            with grpc.insecure_channel(address) as channel:
                info = agent_pb2_grpc.AgentServiceStub(channel).GetInfo(
                    pb.GetInfoRequest(),
                    timeout=10,
                    metadata=(("authorization", f"Bearer {TOKEN}"),),
                )
            assert info.threads == expected, address
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
