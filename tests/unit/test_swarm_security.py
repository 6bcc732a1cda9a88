"""The swarm security settings as read at start-up: every mistake is one line naming the
setting, nothing half-configured is accepted; and where local tokens are looked for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from conclave.cli.main import build_parser
from conclave.deploy.certs import issue, make_ca
from conclave.gateway.settings import GatewaySettings
from conclave.services.settings import AgentSettings
from conclave.swarm_security import (
    SwarmClientFields,
    SwarmClientSettings,
    SwarmSecurity,
    SwarmSecurityError,
    local_token_file,
    swarm_fields_from_env,
)

CONCLAVE = (sys.executable, "-m", "conclave.cli.main")


def _security(**fields) -> SwarmSecurity:
    return SwarmSecurity.from_settings(SwarmClientFields(**fields))


def test_a_token_is_read_from_the_setting_or_its_file(tmp_path: Path) -> None:
    assert _security(swarm_token=SecretStr(" abc ")).token == "abc"
    path = tmp_path / "token"
    path.write_text("from-a-file\n")
    assert _security(swarm_token_file=path).token == "from-a-file"
    assert _security().token is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"swarm_token": SecretStr("a"), "swarm_token_file": Path("/x")}, "both set"),
        ({"swarm_token": SecretStr("  ")}, "swarm_token is empty"),
        ({"swarm_token": SecretStr("two words")}, "printable ASCII"),
        ({"swarm_token": SecretStr("caf\u00e9")}, "printable ASCII"),
        ({"swarm_token_file": Path("/no/such/token")}, "swarm_token_file: cannot read"),
        ({"swarm_cert": Path("/c.pem")}, "swarm_cert and swarm_key go together"),
        ({"swarm_ca": Path("/no/ca.pem")}, "swarm_ca: cannot read"),
    ],
)
def test_mistakes_name_the_setting(fields: dict, message: str) -> None:
    with pytest.raises(SwarmSecurityError, match=message):
        _security(**fields)


def test_a_file_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    with pytest.raises(SwarmSecurityError, match=r"swarm_ca: .* is not a PEM file"):
        _security(swarm_ca=tmp_path / "ca.pem")


def test_an_empty_token_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    with pytest.raises(SwarmSecurityError, match="swarm_token_file is empty"):
        _security(swarm_token_file=tmp_path / "token")


def test_the_fallback_token_is_used_only_when_nothing_is_configured(tmp_path: Path) -> None:
    fallback = tmp_path / "local.token"
    fields = SwarmClientFields()
    assert SwarmSecurity.from_settings(fields, fallback_token_file=fallback).token is None
    fallback.write_text("local\n")
    assert SwarmSecurity.from_settings(fields, fallback_token_file=fallback).token == "local"
    given = SwarmClientFields(swarm_token=SecretStr("mine"))
    assert SwarmSecurity.from_settings(given, fallback_token_file=fallback).token == "mine"


def test_local_tokens_are_only_for_loopback_addresses(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path)}
    expected = tmp_path / "conclave" / "local-swarm" / "50050.token"
    assert local_token_file("127.0.0.1:50050", env) == expected
    assert local_token_file("localhost:50050", env) == expected
    assert local_token_file("[::1]:50050", env) == expected
    assert local_token_file("192.168.1.5:50050", env) is None
    assert local_token_file("blade-01.local:50050", env) is None


def test_tls_material_is_loaded_and_servers_ask_for_client_certificates(tmp_path: Path) -> None:
    ca = make_ca()
    member = issue(ca, "blade-01")
    for name, data in (("ca.pem", ca.cert_pem), ("m.pem", member.cert_pem)):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "m.key").write_bytes(member.key_pem)
    security = _security(
        swarm_ca=tmp_path / "ca.pem", swarm_cert=tmp_path / "m.pem", swarm_key=tmp_path / "m.key"
    )
    assert security.tls and security.server_credentials() is not None
    assert _security().server_credentials() is None  # no certificate: a plaintext port
    # A client-only process (the CA to check servers with) has no server credentials.
    assert _security(swarm_ca=tmp_path / "ca.pem").server_credentials() is None


def test_health_is_open_and_reflection_closed_by_default() -> None:
    security = SwarmSecurity.from_settings(AgentSettings(swarm_token="t"))
    [check] = security.server_interceptors()
    assert check._open == ("/grpc.health.v1.Health/",)
    opened = AgentSettings(swarm_token="t", swarm_reflection_open=True, swarm_health_open=False)
    [check] = SwarmSecurity.from_settings(opened).server_interceptors()
    assert "/grpc.health.v1.Health/" not in check._open
    assert "/grpc.reflection.v1alpha.ServerReflection/" in check._open
    assert SwarmSecurity.from_settings(AgentSettings()).server_interceptors() == ()


def test_clients_have_no_server_only_settings() -> None:
    # A gateway has no gRPC port: a health or reflection setting there would do nothing.
    assert "swarm_health_open" not in GatewaySettings.model_fields
    assert "swarm_reflection_open" not in SwarmClientSettings.model_fields


def test_the_token_is_never_a_flag_but_its_file_is(capsys: pytest.CaptureFixture) -> None:
    parser = build_parser()
    for command in (["agent"], ["leader"], ["gateway"], ["ask", "x"], ["agent", "call", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--swarm-token", "s3cret"])
        error = capsys.readouterr().err
        assert "--swarm-token is not a flag" in error and "SWARM_TOKEN" in error
        assert "s3cret" not in error
        args = parser.parse_args([*command, "--swarm-token-file", "/run/token"])
        assert args.swarm_token_file == "/run/token"


def test_environment_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCLAVE_SWARM_TOKEN", "for-clients")
    monkeypatch.setenv("CONCLAVE_AGENT_SWARM_TOKEN", "for-the-agent")
    assert SwarmClientSettings().swarm_token.get_secret_value() == "for-clients"
    assert AgentSettings().swarm_token.get_secret_value() == "for-the-agent"
    assert swarm_fields_from_env("CONCLAVE_AGENT_").swarm_token.get_secret_value() == (
        "for-the-agent"
    )


@pytest.mark.parametrize("command", ["agent", "leader", "gateway"])
def test_a_bad_token_file_stops_the_start_with_one_line(command: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [*CONCLAVE, command, "--port", "0", "--swarm-token-file", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"conclave {command}: swarm_token_file: cannot read")


def test_a_key_that_does_not_match_its_certificate_is_refused(tmp_path: Path) -> None:
    ca = make_ca()
    one, other = issue(ca, "blade-01"), issue(ca, "blade-02")
    (tmp_path / "one.pem").write_bytes(one.cert_pem)
    (tmp_path / "other.key").write_bytes(other.key_pem)
    with pytest.raises(SwarmSecurityError, match="swarm_cert/swarm_key"):
        _security(swarm_cert=tmp_path / "one.pem", swarm_key=tmp_path / "other.key")
    (tmp_path / "bad-ca.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(SwarmSecurityError, match="swarm_ca: not a CA certificate"):
        _security(swarm_ca=tmp_path / "bad-ca.pem")


def test_conclave_up_takes_the_given_token_or_makes_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from conclave.cli.up import swarm_token
    from conclave.swarm import SwarmError

    for name in ("CONCLAVE_SWARM_TOKEN", "CONCLAVE_SWARM_TOKEN_FILE", "CONCLAVE_SWARM_CA"):
        monkeypatch.delenv(name, raising=False)
    assert swarm_token("127.0.0.1", always=False) is None  # loopback only: no token
    made = swarm_token("0.0.0.0", always=False)  # the LAN: a fresh token
    assert len(made) >= 32 and swarm_token("127.0.0.1", always=True) != made
    monkeypatch.setenv("CONCLAVE_SWARM_TOKEN", "shared-with-remote-agents")
    assert swarm_token("127.0.0.1", always=False) == "shared-with-remote-agents"
    monkeypatch.setenv("CONCLAVE_SWARM_CA", "/etc/ca.pem")  # would be silently ignored
    with pytest.raises(SwarmError, match="CONCLAVE_SWARM_CA: the local swarm runs without TLS"):
        swarm_token("127.0.0.1", always=False)
