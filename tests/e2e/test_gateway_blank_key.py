"""The Docker path's gateway: compose passes `CONCLAVE_GATEWAY_API_KEY: ${CONCLAVE_API_KEY:-}`,
an empty string when the operator set no key. Empty means "no key": docs/deploy.md's plain
curl and every OpenAI client (which always send some Bearer) are served."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from conclave.gateway.settings import GatewaySettings
from tests.support.servers import RunningGateway

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "compose.yaml"


KEY = "CONCLAVE_GATEWAY_API_KEY"


def compose_gateway_environment(shell_env: dict[str, str]) -> dict[str, str]:
    """The gateway service's environment as compose resolves it (`${VAR:-default}`)."""
    service = yaml.safe_load(COMPOSE.read_text())["services"]["gateway"]
    return {
        name: re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: shell_env.get(m[1]) or m[2], str(value))
        for name, value in service["environment"].items()
    }


def test_compose_without_a_key_sets_it_empty():
    # The premise of this module: what compose really hands the gateway.
    assert compose_gateway_environment({})["CONCLAVE_GATEWAY_API_KEY"] == ""


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_key_is_no_key(blank, monkeypatch):
    monkeypatch.setenv("CONCLAVE_GATEWAY_API_KEY", blank)
    assert GatewaySettings().api_key is None
    assert GatewaySettings(api_key=blank).api_key is None


def test_the_compose_gateway_serves_without_a_key(leader, monkeypatch):
    # The key as compose sets it (its swarm token file exists only inside the container).
    monkeypatch.setenv(KEY, compose_gateway_environment({})[KEY])
    settings = GatewaySettings(host="127.0.0.1", port=0, leader=leader.address, log_level="WARNING")
    with RunningGateway(settings) as gateway:
        assert httpx.get(f"{gateway.url}/v1/models").status_code == 200
        unused = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": "Bearer unused"})
        assert unused.status_code == 200
        curl = shutil.which("curl")
        if curl is None:
            pytest.skip("curl is not installed (Debian package curl)")
        # docs/deploy.md's check of the Docker path, as written but for the port.
        ran = subprocess.run(
            [curl, "-sf", f"{gateway.url}/v1/models"], capture_output=True, text=True, timeout=30
        )
        assert ran.returncode == 0 and '"conclave-vote"' in ran.stdout, ran.stderr


def test_the_compose_gateway_with_a_key_still_guards(leader, monkeypatch):
    monkeypatch.setenv(KEY, compose_gateway_environment({"CONCLAVE_API_KEY": "s3cret"})[KEY])
    settings = GatewaySettings(host="127.0.0.1", port=0, leader=leader.address, log_level="WARNING")
    with RunningGateway(settings) as gateway:
        assert httpx.get(f"{gateway.url}/v1/models").status_code == 401
        good = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200
