"""Health tells the truth: with an agent that does not answer, the gateway's /health is
"degraded" and says which and why; its voices stay listed in /v1/models and ListAgents,
marked dead; with no agent answering, /health is 503 and the leader's
conclave.v1.LeaderService health is NOT_SERVING, the reason in its log."""

from __future__ import annotations

import socket

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conclave.v1 import leader_pb2, leader_pb2_grpc
from tests.support.servers import RunningGateway, RunningLeader, gateway_settings, leader_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LEADER = "conclave.v1.LeaderService"


def dead_address() -> str:
    """An address nothing listens on (a port the OS handed out, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def swarm(agents: list[str], tmp_path):
    leader = RunningLeader(leader_settings(tmp_path / "rounds.db", agents=agents))
    return leader, RunningGateway(gateway_settings(leader.address))


def test_a_dead_agent_makes_health_degraded_and_is_marked_dead(agent, tmp_path):
    dead = dead_address()
    leader, gateway = swarm([agent.address, dead], tmp_path)
    with leader, gateway:
        reply = httpx.get(f"{gateway.url}/health", timeout=30)
        assert reply.status_code == 200  # the live agent still answers
        health = reply.json()
        assert health["status"] == "degraded"
        assert (health["agents"], health["agents_reachable"]) == (2, 1)
        (reason,) = health["reasons"]
        assert dead in reason and "does not answer" in reason

        cards = httpx.get(f"{gateway.url}/v1/models", timeout=30).json()["data"]
        voices = {
            c["conclave"]["address"]: c["conclave"] for c in cards if "address" in c["conclave"]
        }
        assert voices[agent.address]["reachable"] is True
        assert voices[dead]["reachable"] is False and voices[dead]["error"]

        listed = httpx.get(f"{gateway.url}/v1/agents", timeout=30).json()["data"]
        assert {a["address"]: a["reachable"] for a in listed} == {agent.address: True, dead: False}

        with grpc.insecure_channel(leader.address) as ch:
            reply = leader_pb2_grpc.LeaderServiceStub(ch).ListAgents(
                leader_pb2.ListAgentsRequest(), timeout=30
            )
        errors = {a.address: a.error for a in reply.agents}
        assert errors[agent.address] == "" and "UNAVAILABLE" in errors[dead]


def test_with_no_agent_answering_health_is_503(tmp_path):
    leader, gateway = swarm([dead_address()], tmp_path)
    with leader, gateway:
        reply = httpx.get(f"{gateway.url}/health", timeout=30)
        assert reply.status_code == 503
        assert reply.json()["status"] == "degraded"
        assert reply.json()["agents_reachable"] == 0


def test_a_healthy_swarm_is_ok(gateway):
    health = httpx.get(f"{gateway.url}/health", timeout=30).json()
    assert health["status"] == "ok" and health["reasons"] == []


def leader_health(address: str, service: str) -> int:
    with grpc.insecure_channel(address) as ch:
        return (
            health_pb2_grpc.HealthStub(ch)
            .Check(health_pb2.HealthCheckRequest(service=service), timeout=30)
            .status
        )


def test_the_leaders_health_follows_its_agents(agent, tmp_path, caplog):
    dead = dead_address()
    with (
        RunningLeader(leader_settings(tmp_path / "a.db", agents=[dead])) as alone,
        RunningLeader(leader_settings(tmp_path / "b.db", agents=[agent.address, dead])) as mixed,
    ):
        # The process is up either way; the LeaderService can run a round only with an agent.
        assert leader_health(alone.address, "") == health_pb2.HealthCheckResponse.SERVING
        assert leader_health(alone.address, LEADER) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert leader_health(mixed.address, LEADER) == health_pb2.HealthCheckResponse.SERVING
    reasons = [r.getMessage() for r in caplog.records if r.name == "conclave.leader.agent_watch"]
    assert any(dead in line and "does not answer" in line for line in reasons)
