"""The swarm most gateway tests stand on: the session's agent as three participants
behind a leader with a round store of its module's own, and a gateway over it. A module
sets the gateway's API key by overriding `gateway_key`."""

from __future__ import annotations

import pytest

from tests.support.engine import loaded_bundled_model
from tests.support.servers import RunningGateway, RunningLeader, gateway_settings, leader_settings


@pytest.fixture(scope="module")
def gateway_key() -> str | None:
    return None


@pytest.fixture(scope="module")
def leader(agent, tmp_path_factory, request):
    db = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]) / "rounds.db"
    with RunningLeader(
        leader_settings(db, agents=[agent.address], participants_per_agent=3)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(leader, gateway_key):
    with RunningGateway(gateway_settings(leader.address, api_key=gateway_key)) as running:
        yield running


@pytest.fixture(scope="module")
def in_process_model():
    """The bundled model in this process, for tests that drive a scheduler directly."""
    with loaded_bundled_model() as loaded:
        yield loaded
