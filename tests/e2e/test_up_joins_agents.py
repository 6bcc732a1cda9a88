"""`conclave up` past one box: an agent service started on its own (as on a second PC or
a Pi blade) joins the swarm by address, and the swarm's rounds are answered by it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from conclave.swarm import DEFAULT_VOICE_MODELS
from tests.support.processes import AgentProcess, read_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

UP = (sys.executable, "-m", "conclave.cli.main", "up")
FREE_PORTS = ("--port", "0", "--leader-port", "0")


def test_up_joins_an_agent_started_elsewhere_and_asks_it(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    with AgentProcess("--slots", "3", name="far-agent") as far:
        proc = subprocess.Popen(
            # The gateway and the leader on free ports; no agent starts here.
            [*UP, "--host", "127.0.0.1", "--agents-at", far.address, *FREE_PORTS],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            url = read_until(proc, r"gateway \(OpenAI API\)\s+(http://\S+)/v1", timeout=300)
            listed = read_until(proc, r"agents \(gRPC\)\s+(.*)$", timeout=60)
            assert listed.strip() == far.address  # the joined agent, and no local one
            reply = httpx.post(
                f"{url}/v1/chat/completions",
                timeout=300,
                json={
                    "model": "conclave-vote",
                    "max_tokens": 8,
                    "seed": 7,
                    "messages": [{"role": "user", "content": "Name a colour."}],
                },
            )
            assert reply.status_code == 200, reply.text
            held = httpx.get(f"{url}/v1/rounds/{reply.headers['x-conclave-round-id']}").json()
            assert held["status"] == "decided"
            # Every voice speaks through the agent started elsewhere, as the default team.
            assert {p["address"] for p in held["participants"]} == {far.address}
            assert [p["model"] for p in held["participants"]] == list(DEFAULT_VOICE_MODELS)
            assert len(held["candidates"]) == len(DEFAULT_VOICE_MODELS)
            assert all(c["participant"].startswith("far-agent") for c in held["candidates"])
            proc.send_signal(signal.SIGINT)
            assert read_until(proc, r"(stopped\.)", timeout=120) == "stopped."
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()


def test_up_refuses_an_agent_address_that_does_not_answer(tmp_path):
    done = subprocess.run(
        [*UP, "--agents-at", "127.0.0.1:1", *FREE_PORTS],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("conclave up: agents_at: the agent at 127.0.0.1:1 does not answer")


def test_up_refuses_a_malformed_agent_address():
    done = subprocess.run(
        [*UP, "--agents-at", "blade-01.local"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--agents-at: 'blade-01.local' is not HOST:PORT" in done.stderr.strip().splitlines()[-1]
