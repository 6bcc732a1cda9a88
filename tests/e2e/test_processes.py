"""The deployables as real processes: graceful drain on SIGTERM, `conclave up`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conclave.services.model_source import GEMMA, SMOLLM2
from conclave.swarm import DEFAULT_VOICE_MODELS
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.support.processes import AgentProcess, read_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_sigterm_drains_running_generations_then_exits_cleanly():
    # A generous drain window: the assertion is that the drain waits, not how fast it is.
    with AgentProcess(
        "--slots", "2", name="drainer", env={"CONCLAVE_AGENT_DRAIN_SECONDS": "120"}
    ) as agent:
        ch = grpc.insecure_channel(agent.address)
        stub = agent_pb2_grpc.AgentServiceStub(ch)
        request = pb.GenerateRequest(
            prompt="Once upon a time", max_tokens=120, temperature=0.0, ignore_eos=True
        )
        call = stub.Generate(request, timeout=600)
        first = next(call)  # the generation is running
        assert first.HasField("started")
        finished: list[pb.SampleFinished] = []
        errors: list[Exception] = []

        def read() -> None:
            try:
                finished.extend(e.finished for e in call if e.HasField("finished"))
            except grpc.RpcError as error:
                errors.append(error)

        reader = threading.Thread(target=read)
        reader.start()
        agent.proc.send_signal(signal.SIGTERM)
        # While draining: health says NOT_SERVING and new work is refused.
        deadline = time.monotonic() + 5
        status = None
        while time.monotonic() < deadline:
            status = (
                health_pb2_grpc.HealthStub(ch)
                .Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                .status
            )
            if status == health_pb2.HealthCheckResponse.NOT_SERVING:
                break
            time.sleep(0.05)
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.Generate(pb.GenerateRequest(prompt="hi", max_tokens=2), timeout=10))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        reader.join(timeout=600)
        assert agent.proc.wait(timeout=300) == 0
        ch.close()
    assert not errors
    assert len(finished) == 1 and finished[0].usage.completion_tokens == 120


COLOUR = r"\b(red|blue|green|yellow|black|white|orange|purple|pink|brown|gr[ae]y)\b"


def test_conclave_up_brings_up_the_swarm_and_stops_on_ctrl_c(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conclave.cli.main",
            "up",
            "--port",
            "0",
            "--leader-port",
            "0",
            "--agent-port",
            "0",
            "--slots",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        url = read_until(proc, r"gateway \(OpenAI API\)\s+(http://\S+)/v1", timeout=600)
        reply = httpx.post(
            f"{url}/v1/chat/completions",
            timeout=600,
            json={
                "model": "conclave-vote",
                "max_tokens": 8,
                "seed": 7,  # the swarm's own temperature, seeded: the same voices every run
                "messages": [{"role": "user", "content": "Name a colour."}],
            },
        )
        assert reply.status_code == 200
        assert re.search(COLOUR, reply.json()["choices"][0]["message"]["content"], re.I)
        held = httpx.get(f"{url}/v1/rounds/{reply.headers['x-conclave-round-id']}").json()
        assert len(held["candidates"]) == len(DEFAULT_VOICE_MODELS)
        # The voices are the measured default team, each asking for its own model.
        assert [p["model"] for p in held["participants"]] == list(DEFAULT_VOICE_MODELS)
        cards = httpx.get(f"{url}/v1/models").json()["data"]
        voices = [c["conclave"] for c in cards if c["id"].startswith("agent/")]
        assert [v["model"] for v in voices] == list(DEFAULT_VOICE_MODELS)
        # Both bundled models are served, whichever the voices ask for.
        assert {GEMMA.id, SMOLLM2.id} <= set(voices[0]["agent_models"])
        proc.send_signal(signal.SIGINT)
        assert read_until(proc, r"(stopped\.)", timeout=300) == "stopped."
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()


def test_conclave_up_refuses_a_voice_model_its_agents_do_not_serve(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "conclave.cli.main", "up"),
            *("--port", "0", "--leader-port", "0", "--agent-port", "0"),
            *("--voice-models", "no-such-model"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 2  # ExitCode.SETTINGS
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("conclave up: voice_models: agent-1 does not serve no-such-model")
