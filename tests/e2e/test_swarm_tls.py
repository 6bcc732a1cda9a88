"""A TLS swarm (mTLS) on the real stack: certificates from a swarm CA made in the test,
and strangers whose certificates another CA signed (or who have none)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import grpc
import pytest
from openai import OpenAI

from conclave import __version__
from conclave.deploy.certs import Issued, issue, make_ca
from conclave.services.announce import Announcer
from conclave.swarm_security import SwarmSecurity
from conclave.v1 import agent_pb2, agent_pb2_grpc, leader_pb2, leader_pb2_grpc
from tests.support.servers import (
    RunningAgent,
    RunningGateway,
    RunningLeader,
    agent_settings,
    gateway_settings,
    leader_settings,
    shared_loop,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TOKEN = "tls-swarm-token"


def _write(folder: Path, name: str, issued: Issued, ca: Issued) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.pem").write_bytes(issued.cert_pem)
    (folder / f"{name}.key").write_bytes(issued.key_pem)
    (folder / f"{name}-ca.pem").write_bytes(ca.cert_pem)
    return {
        "swarm_ca": folder / f"{name}-ca.pem",
        "swarm_cert": folder / f"{name}.pem",
        "swarm_key": folder / f"{name}.key",
    }


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """Swarm members' settings, and a stranger's from a CA of its own."""
    folder = tmp_path_factory.mktemp("pki")
    swarm, foreign = make_ca(), make_ca("Someone else's CA")
    return {
        "agent": _write(folder, "agent", issue(swarm, "blade-01", ["127.0.0.1"]), swarm),
        "leader": _write(folder, "leader", issue(swarm, "leader"), swarm),
        "gateway": _write(folder, "gateway", issue(swarm, "gateway"), swarm),
        "stranger": _write(folder, "stranger", issue(foreign, "blade-99", ["127.0.0.1"]), foreign),
        "stranger_with_our_ca": {
            **_write(folder, "intruder", issue(foreign, "intruder"), foreign),
            "swarm_ca": folder / "agent-ca.pem",
        },
    }


@pytest.fixture(scope="module")
def member(pki):
    settings = agent_settings(
        name="member",
        model="bundled",
        slots=2,
        swarm_token=TOKEN,
        announce=True,
        announce_interfaces=["127.0.0.1"],
        **pki["agent"],
    )
    with RunningAgent(settings) as running:
        yield running


@pytest.fixture(scope="module")
def stranger(pki):
    """A TLS agent of another swarm (never loaded: the handshake is what is refused)."""
    settings = agent_settings(name="stranger", swarm_token=TOKEN, **pki["stranger"])
    with RunningAgent(settings, load=False) as running:
        yield running


@pytest.fixture(scope="module")
def plaintext_agent():
    with RunningAgent(agent_settings(name="plaintext"), load=False) as running:
        yield running


@pytest.fixture(scope="module")
def leader(pki, member, stranger, plaintext_agent, tmp_path_factory, caplog_module):
    db = tmp_path_factory.mktemp("tls") / "rounds.db"
    agents = [member.address, stranger.address, plaintext_agent.address]
    settings = leader_settings(
        db, agents=agents, participants_per_agent=1, swarm_token=TOKEN, **pki["leader"]
    )
    with RunningLeader(settings) as running:
        yield running


@pytest.fixture(scope="module")
def caplog_module():
    """The leader's warnings from its start-up (module-scoped, unlike caplog)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("conclave.leader.discovery.gate")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)


def _list_agents(leader, security: SwarmSecurity) -> list[str]:
    with security.channel(leader.address) as channel:
        reply = leader_pb2_grpc.LeaderServiceStub(channel).ListAgents(
            leader_pb2.ListAgentsRequest(), timeout=30
        )
    return sorted(a.address for a in reply.agents)


def _security(pki, who: str, token: str | None = TOKEN) -> SwarmSecurity:
    paths = pki[who]
    return SwarmSecurity(
        token=token,
        ca_pem=paths["swarm_ca"].read_bytes(),
        cert_pem=paths["swarm_cert"].read_bytes(),
        key_pem=paths["swarm_key"].read_bytes(),
    )


def test_the_leader_takes_only_agents_whose_certificate_chains_to_the_swarm_ca(
    pki, leader, member, stranger, plaintext_agent, caplog_module
):
    assert _list_agents(leader, _security(pki, "gateway")) == [member.address]
    skipped = {r.getMessage() for r in caplog_module if r.levelno == logging.WARNING}
    assert any(stranger.address in m and "not accepted" in m for m in skipped), skipped
    assert any(plaintext_agent.address in m for m in skipped), skipped


def test_a_round_over_mtls_reaches_the_member_through_the_gateway(pki, leader):
    settings = gateway_settings(leader.address, swarm_token=TOKEN, **pki["gateway"])
    with RunningGateway(settings) as gateway:
        client = OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(
            model="conclave-vote",
            max_tokens=4,
            temperature=0,
            messages=[{"role": "user", "content": "Name a colour."}],
        )
        assert reply.choices[0].message.content
        record = client.get(f"/rounds/{reply.model_extra['conclave']['round_id']}", cast_to=object)
        assert {c["participant"] for c in record["candidates"]} == {"member"}


@pytest.mark.parametrize("who", ["stranger", "stranger_with_our_ca", "no certificate", "plaintext"])
def test_the_member_agent_refuses_clients_without_a_swarm_certificate(pki, member, who):
    if who == "plaintext":
        security = SwarmSecurity(token=TOKEN)
    elif who == "no certificate":
        security = SwarmSecurity(token=TOKEN, ca_pem=pki["agent"]["swarm_ca"].read_bytes())
    else:
        security = _security(pki, who)
    with security.channel(member.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetInfo(agent_pb2.GetInfoRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_swarm_certificate_still_needs_the_token(pki, member):
    with _security(pki, "leader", token=None).channel(member.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetInfo(agent_pb2.GetInfoRequest(), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with _security(pki, "leader").channel(member.address) as channel:
        info = agent_pb2_grpc.AgentServiceStub(channel).GetInfo(agent_pb2.GetInfoRequest())
        assert info.name == "member"


def test_an_announced_agent_of_another_swarm_is_skipped(pki, member, stranger, tmp_path):
    settings = leader_settings(
        tmp_path / "z.db",
        discover=True,
        discovery_interfaces=["127.0.0.1"],
        swarm_token=TOKEN,
        **pki["leader"],
    )
    impostor = Announcer(
        name="impostor",
        host="127.0.0.1",
        port=stranger.port,
        model="bundled",
        slots=1,
        version=__version__,
        interfaces=["127.0.0.1"],
    )
    loop = shared_loop()
    loop.run(impostor.start())
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    gate_log = logging.getLogger("conclave.leader.discovery.gate")
    gate_log.addHandler(handler)
    try:
        with RunningLeader(settings) as leader:
            deadline = time.monotonic() + 20
            found: list[str] = []
            while time.monotonic() < deadline:
                found = _list_agents(leader, _security(pki, "gateway"))
                refused = any(stranger.address in r.getMessage() for r in records)
                if found == [member.address] and refused:
                    break
                time.sleep(0.2)
            assert found == [member.address]
            assert any(
                "impostor" in r.getMessage() and "zeroconf" in r.getMessage() for r in records
            ), [r.getMessage() for r in records]
    finally:
        gate_log.removeHandler(handler)
        loop.run(impostor.close())
