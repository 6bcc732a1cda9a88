"""The swarm token on the real stack: an agent and a leader that require it, a gateway
that carries it; stock clients (grpc stubs, grpcurl, the openai SDK, `conclave ask`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from openai import OpenAI

from conclave.swarm_security import SwarmSecurity
from conclave.v1 import agent_pb2, agent_pb2_grpc, leader_pb2, leader_pb2_grpc
from tests.deploy.tools import need
from tests.support.servers import (
    RunningAgent,
    RunningGateway,
    RunningLeader,
    agent_settings,
    gateway_settings,
    leader_settings,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TOKEN = "s3cret-swarm-token-for-tests"
BEARER = (("authorization", f"Bearer {TOKEN}"),)


@pytest.fixture(scope="module")
def grpcurl() -> str:
    """The stock client (make setup installs it from deploy/requirements-test.txt)."""
    [path] = need("grpcurl")
    return path


@pytest.fixture(scope="module")
def guarded_agent():
    with RunningAgent(
        agent_settings(name="guarded", model="bundled", slots=2, swarm_token=TOKEN)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def guarded_leader(guarded_agent, tmp_path_factory):
    db = tmp_path_factory.mktemp("auth") / "rounds.db"
    settings = leader_settings(
        db, agents=[guarded_agent.address], participants_per_agent=1, swarm_token=TOKEN
    )
    with RunningLeader(settings) as running:
        yield running


def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()


def test_the_agent_refuses_calls_without_the_token(guarded_agent):
    with grpc.insecure_channel(guarded_agent.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        info = agent_pb2.GetInfoRequest()
        assert _code(lambda: stub.GetInfo(info, timeout=10)) == grpc.StatusCode.UNAUTHENTICATED
        wrong = (("authorization", f"Bearer {TOKEN[:-1]}x"),)
        assert (
            _code(lambda: stub.GetInfo(info, timeout=10, metadata=wrong))
            == grpc.StatusCode.UNAUTHENTICATED
        )
        # A streaming call is refused before its request is read: no token, no tokens.
        request = agent_pb2.GenerateRequest(prompt="Hello", max_tokens=4)
        assert (
            _code(lambda: list(stub.Generate(request, timeout=10)))
            == grpc.StatusCode.UNAUTHENTICATED
        )
        assert stub.GetInfo(info, timeout=10, metadata=BEARER).name == "guarded"
        events = list(stub.Generate(request, timeout=60, metadata=BEARER))
        assert events[-1].WhichOneof("event") == "finished"


def test_health_stays_open_and_reflection_does_not(guarded_agent, grpcurl):
    with grpc.insecure_channel(guarded_agent.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    refused = subprocess.run(
        [grpcurl, "-plaintext", guarded_agent.address, "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "Unauthenticated" in refused.stderr
    listed = subprocess.run(
        [
            grpcurl,
            "-plaintext",
            "-H",
            f"authorization: Bearer {TOKEN}",
            guarded_agent.address,
            "list",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "conclave.v1.AgentService" in listed.stdout.split()


def test_the_leader_refuses_calls_without_the_token(guarded_leader):
    with grpc.insecure_channel(guarded_leader.address) as channel:
        stub = leader_pb2_grpc.LeaderServiceStub(channel)
        request = leader_pb2.ListRoundsRequest()
        assert (
            _code(lambda: stub.ListRounds(request, timeout=10)) == grpc.StatusCode.UNAUTHENTICATED
        )
        stub.ListRounds(request, timeout=10, metadata=BEARER)
        # The leader reached its agent with the token: the agent answered GetInfo.
        agents = stub.ListAgents(leader_pb2.ListAgentsRequest(), timeout=30, metadata=BEARER)
        assert [a.info.name for a in agents.agents] == ["guarded"]


def test_grpcurl_reads_the_leader_only_with_the_token(guarded_leader, grpcurl):
    method = "conclave.v1.LeaderService/ListRounds"
    without = subprocess.run(
        [grpcurl, "-plaintext", "-d", "{}", guarded_leader.address, method],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert without.returncode != 0
    assert "Unauthenticated" in without.stderr
    header = f"authorization: Bearer {TOKEN}"
    with_token = subprocess.run(
        [grpcurl, "-plaintext", "-H", header, "-d", "{}", guarded_leader.address, method],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert with_token.returncode == 0, with_token.stderr
    json.loads(with_token.stdout)  # the page of rounds, as JSON


def test_the_gateway_carries_the_token_end_to_end(guarded_leader):
    with RunningGateway(gateway_settings(guarded_leader.address, swarm_token=TOKEN)) as gateway:
        client = OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(
            model="conclave-vote",
            max_tokens=4,
            temperature=0,
            messages=[{"role": "user", "content": "Name a colour."}],
        )
        assert reply.choices[0].message.content
        round_id = reply.model_extra["conclave"]["round_id"]
        assert client.get(f"/rounds/{round_id}", cast_to=object)["id"] == round_id


def test_a_gateway_without_the_token_is_refused_by_the_leader(guarded_leader):
    with RunningGateway(gateway_settings(guarded_leader.address)) as gateway:
        client = OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(Exception) as caught:
            client.chat.completions.create(
                model="conclave-vote",
                max_tokens=4,
                messages=[{"role": "user", "content": "Hi"}],
            )
        assert getattr(caught.value, "status_code", None) == 503
        assert "swarm token is missing or wrong" in str(caught.value)


def test_conclave_ask_sends_the_token_from_its_file(guarded_leader, tmp_path):
    base = [sys.executable, "-m", "conclave.cli.main", "ask", "Name a colour.", "--json"]
    args = [*base, "--leader", guarded_leader.address, "--max-tokens", "4"]
    env = {**os.environ, "HOME": str(tmp_path)}  # no token `conclave up` may have left
    env.pop("CONCLAVE_SWARM_TOKEN", None)
    refused = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 1
    assert "UNAUTHENTICATED" in refused.stderr
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    asked = subprocess.run(
        [*args, "--swarm-token-file", str(token_file)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["status"]


def test_conclave_agent_call_sends_the_token(guarded_agent, tmp_path):
    args = [sys.executable, "-m", "conclave.cli.main", "agent", "call", "Hello"]
    args += ["--addr", guarded_agent.address, "--max-tokens", "4"]
    env = {**os.environ, "HOME": str(tmp_path)}
    refused = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 1
    assert "UNAUTHENTICATED" in refused.stderr
    called = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "CONCLAVE_SWARM_TOKEN": TOKEN},
    )
    assert called.returncode == 0, called.stderr


def test_the_experiment_runner_carries_the_token(guarded_leader, tmp_path):
    import yaml

    from conclave.experiments.config import load_experiment
    from conclave.experiments.runner import ExperimentRunner
    from conclave.swarm_security import SwarmClientSettings

    config = tmp_path / "exp.yaml"
    data = tmp_path / "items.jsonl"
    data.write_text(json.dumps({"id": "a", "prompt": "What is 2 + 2?", "answer": 4}) + "\n")
    spec = {
        "name": "auth",
        "leader": guarded_leader.address,
        "dataset": {"path": str(data), "scorer": "numeric"},
        "strategies": [{"id": "vote", "strategy": "vote", "params": {"extract": "number"}}],
        "max_tokens": 4,
    }
    config.write_text(yaml.safe_dump(spec))
    experiment = load_experiment(config)
    swarm = SwarmClientSettings(swarm_token=TOKEN)
    report = ExperimentRunner(experiment, tmp_path / "out", swarm=swarm).run()
    assert report.ran == 1 and report.complete, report.errors


def test_a_client_security_sends_the_token_on_blocking_channels(guarded_leader):
    with SwarmSecurity(token=TOKEN).channel(guarded_leader.address) as channel:
        leader_pb2_grpc.LeaderServiceStub(channel).ListRounds(
            leader_pb2.ListRoundsRequest(), timeout=10
        )


def test_discovery_with_a_token_but_no_ca_says_what_it_exposes(tmp_path, caplog):
    settings = leader_settings(
        tmp_path / "d.db", discover=True, discovery_interfaces=["127.0.0.1"], swarm_token=TOKEN
    )
    with caplog.at_level("WARNING", logger="conclave.leader.server"), RunningLeader(settings):
        pass
    assert any("no swarm_ca" in r.getMessage() for r in caplog.records)
