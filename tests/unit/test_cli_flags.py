"""The `agent`, `leader` and `gateway` flags are made from their settings classes."""

from __future__ import annotations

import os

import pytest

from conclave.cli.flags import given_settings
from conclave.cli.main import build_parser
from conclave.gateway.settings import GatewaySettings
from conclave.leader.settings import LeaderSettings
from conclave.services.settings import AgentSettings

COMMANDS = {"agent": AgentSettings, "leader": LeaderSettings, "gateway": GatewaySettings}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CONCLAVE_"):
            monkeypatch.delenv(name)


def settings(*argv: str):
    args = build_parser().parse_args(argv)
    cls = COMMANDS[argv[0]]
    return cls(**given_settings(cls, args))


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_the_documented_spellings_still_work(tmp_path) -> None:
    config = tmp_path / "leader.yaml"
    config.write_text("default_samples: 2\n")
    agent = settings(
        "agent", "--host", "0.0.0.0", "--port", "1", "--name", "b1", "--model", "m.gguf",
        "--slots", "2", "--threads", "3", "--context-size", "512", "--announce",
    )  # fmt: skip
    assert (agent.host, agent.port, agent.name, agent.model) == ("0.0.0.0", 1, "b1", "m.gguf")
    assert (agent.slots, agent.threads, agent.context_size, agent.announce) == (2, 3, 512, True)
    leader = settings(
        "leader", "--host", "h", "--port", "2", "--agents", "a:1, b:2", "--discover",
        "--db", str(tmp_path / "r.db"), "--config", str(config),
    )  # fmt: skip
    assert leader.agents == ["a:1", "b:2"] and leader.discover
    assert leader.db == tmp_path / "r.db" and leader.default_samples == 2
    gateway = settings("gateway", "--host", "h", "--port", "3", "--leader", "l:1", "--api-key", "k")
    assert gateway.leader == "l:1" and gateway.api_key.get_secret_value() == "k"


def test_a_flag_not_given_leaves_the_environment_and_the_config_file_alone(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('leader = "from-file:1"\nmax_n = 4\n')
    monkeypatch.setenv("CONCLAVE_GATEWAY_PORT", "9090")
    gateway = settings("gateway", "--config", str(config), "--max-n", "5")
    assert (gateway.port, gateway.leader, gateway.max_n) == (9090, "from-file:1", 5)
    assert given_settings(GatewaySettings, build_parser().parse_args(["gateway"])) == {}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_field_that_fits_a_command_line_is_a_flag(command: str, capsys) -> None:
    help_text = help_of(command, capsys)
    for name in COMMANDS[command].model_fields:
        flag = f"--{name.replace('_', '-')}"
        if name in ("models", "participants", "demonstrations"):  # entries: the config file's
            assert flag + " " not in help_text
            continue
        assert flag in help_text, flag
        env = f"{COMMANDS[command].model_config['env_prefix']}{name.upper()}"
        assert env in help_text


def test_choices_bools_and_defaults_come_from_the_fields(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["agent", "--backend", "vllm"])
    assert "invalid choice: 'vllm'" in capsys.readouterr().err
    assert settings("agent", "--no-batch-invariant").batch_invariant is False
    with pytest.raises(SystemExit):
        build_parser().parse_args(["agent", "--port", "many"])
    text = help_of("leader", capsys)
    assert "(default: 50050; env CONCLAVE_LEADER_PORT)" in text
    assert "--discover, --no-discover" in text
