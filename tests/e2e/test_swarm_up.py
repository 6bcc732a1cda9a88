"""`conclave up` makes a token for its local swarm: the ports require it, the swarm's own
members carry it, local clients find it, and nobody sees it in `ps`."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import httpx
import pytest

from conclave.v1 import agent_pb2, agent_pb2_grpc, leader_pb2, leader_pb2_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _lines(proc: subprocess.Popen) -> queue.Queue[str]:
    # A thread reads the pipe: select() would miss lines already in Python's buffer.
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    return lines


def _read_until(lines: queue.Queue[str], pattern: str, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"never saw {pattern!r}; output:\n{''.join(seen)[-3000:]}")


def test_conclave_up_guards_its_ports_with_a_token_its_members_carry(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    for name in ("CONCLAVE_SWARM_TOKEN", "CONCLAVE_SWARM_TOKEN_FILE"):
        env.pop(name, None)
    command = [sys.executable, "-m", "conclave.cli.main", "up", "--model", "bundled", "--token"]
    command += ["--participants-per-agent", "1", "--slots", "2"]
    command += ["--port", "0", "--leader-port", "0", "--agent-port", "0"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        lines = _lines(proc)
        url = _read_until(lines, r"gateway \(OpenAI API\)\s+(http://\S+)/v1", 600).group(1)
        leader = _read_until(lines, r"leader \(gRPC\)\s+(\S+)", 10).group(1)
        agent = _read_until(lines, r"agents \(gRPC\)\s+(\S+)", 10).group(1)
        _read_until(lines, r"Press Ctrl-C", 10)
        folder = tmp_path / "conclave" / "local-swarm"
        leader_file = folder / f"{leader.rsplit(':', 1)[1]}.token"
        agent_file = folder / f"{agent.rsplit(':', 1)[1]}.token"
        token = leader_file.read_text().strip()
        assert len(token) >= 32 and agent_file.read_text().strip() == token
        assert stat.S_IMODE(leader_file.stat().st_mode) == 0o600

        # Not on the command line, nor in the environment, of the process.
        proc_dir = Path(f"/proc/{proc.pid}")
        assert token.encode() not in (proc_dir / "cmdline").read_bytes()
        assert token.encode() not in (proc_dir / "environ").read_bytes()

        # The ports refuse callers without it...
        with grpc.insecure_channel(leader) as channel:
            with pytest.raises(grpc.RpcError) as caught:
                leader_pb2_grpc.LeaderServiceStub(channel).ListRounds(
                    leader_pb2.ListRoundsRequest(), timeout=10
                )
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with grpc.insecure_channel(agent) as channel:
            stub = agent_pb2_grpc.AgentServiceStub(channel)
            with pytest.raises(grpc.RpcError) as caught:
                stub.GetInfo(agent_pb2.GetInfoRequest(), timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            bearer = (("authorization", f"Bearer {token}"),)
            assert stub.GetInfo(agent_pb2.GetInfoRequest(), timeout=10, metadata=bearer).name

        # ...while its own members carry it: gateway -> leader -> agent.
        reply = httpx.post(
            f"{url}/v1/chat/completions",
            timeout=300,
            json={
                "model": "conclave-vote",
                "max_tokens": 4,
                "messages": [{"role": "user", "content": "Name a colour."}],
            },
        )
        assert reply.status_code == 200, reply.text

        # A local client finds the token by itself.
        ask = [sys.executable, "-m", "conclave.cli.main", "ask", "Hi", "--json"]
        asked = subprocess.run(
            [*ask, "--leader", leader, "--max-tokens", "2"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert asked.returncode == 0, asked.stderr
        assert json.loads(asked.stdout)["id"]

        proc.send_signal(signal.SIGINT)
        _read_until(lines, r"(stopped\.)", 300)
        assert proc.wait(timeout=30) == 0
        assert not leader_file.exists() and not agent_file.exists()  # it died with the swarm
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
