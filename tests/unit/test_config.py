"""Settings precedence: init kwargs > environment > config file (YAML/TOML) > defaults."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from conclave.config import read_config_file
from conclave.leader.settings import LeaderSettings, ParticipantConfig
from conclave.services.settings import AgentSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CONCLAVE_* variable of the machine running the tests may leak in."""
    for name in list(os.environ):
        if name.upper().startswith("CONCLAVE_"):
            monkeypatch.delenv(name)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults ----------------------------------------------------------------------------


def test_agent_defaults_without_env_or_file() -> None:
    s = AgentSettings()
    assert s.config_file is None
    assert s.host == "127.0.0.1"
    assert s.port == 50051
    assert s.name == socket.gethostname()
    assert s.model is None
    assert s.chat_format is None
    assert s.announce_interfaces is None
    assert s.log_level == "INFO"


def test_leader_defaults_without_env_or_file() -> None:
    s = LeaderSettings()
    assert s.port == 50050
    assert s.agents == []
    assert s.participants == []
    assert s.default_method == "majority"
    assert s.discovery_interfaces is None


def test_default_paths_follow_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert AgentSettings().model_cache_dir == tmp_path / "cache" / "conclave" / "models"
    assert LeaderSettings().db == tmp_path / "state" / "conclave" / "rounds.db"


# -- precedence --------------------------------------------------------------------------


def test_yaml_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "agent.yaml", "port: 6001\nhost: 0.0.0.0\nslots: 3\n")
    s = AgentSettings(config_file=path)
    assert (s.port, s.host, s.slots) == (6001, "0.0.0.0", 3)
    assert s.config_file == path


def test_toml_file_overrides_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "agent.toml", 'port = 6002\nchat_format = "chatml"\n')
    s = AgentSettings(config_file=path)
    assert (s.port, s.chat_format) == (6002, "chatml")


def test_env_overrides_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path / "agent.yaml", "port: 6001\nhost: 0.0.0.0\n")
    monkeypatch.setenv("CONCLAVE_AGENT_PORT", "6003")
    s = AgentSettings(config_file=path)
    assert s.port == 6003
    assert s.host == "0.0.0.0"  # still from the file


def test_init_kwargs_override_env_and_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path / "agent.yaml", "port: 6001\nthreads: 2\n")
    monkeypatch.setenv("CONCLAVE_AGENT_PORT", "6003")
    monkeypatch.setenv("CONCLAVE_AGENT_THREADS", "3")
    s = AgentSettings(config_file=path, port=6004)
    assert s.port == 6004
    assert s.threads == 3


def test_config_file_can_be_named_by_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path / "agent.toml", "port = 6005\n")
    monkeypatch.setenv("CONCLAVE_AGENT_CONFIG_FILE", str(path))
    s = AgentSettings()
    assert s.port == 6005
    assert s.config_file == path


def test_config_file_kwarg_wins_over_the_env_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_env = write(tmp_path / "env.yaml", "port: 6006\n")
    from_kwarg = write(tmp_path / "kwarg.yaml", "port: 6007\n")
    monkeypatch.setenv("CONCLAVE_AGENT_CONFIG_FILE", str(from_env))
    assert AgentSettings(config_file=from_kwarg).port == 6007


def test_leader_reads_its_own_prefix_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONCLAVE_AGENT_PORT", "6008")
    monkeypatch.setenv("CONCLAVE_LEADER_PORT", "6009")
    monkeypatch.setenv("CONCLAVE_LEADER_CONFIG_FILE", str(write(tmp_path / "l.yaml", "")))
    assert LeaderSettings().port == 6009
    assert AgentSettings().port == 6008


def test_config_file_keys_may_use_dashes(tmp_path: Path) -> None:
    path = write(tmp_path / "agent.yaml", "queue-limit: 3\nmax-n: 2\n")
    s = AgentSettings(config_file=path)
    assert (s.queue_limit, s.max_n) == (3, 2)


def test_an_empty_config_file_means_defaults(tmp_path: Path) -> None:
    assert AgentSettings(config_file=write(tmp_path / "empty.yaml", "")).port == 50051


# -- lists -------------------------------------------------------------------------------


def test_leader_agents_from_env_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCLAVE_LEADER_AGENTS", "a:1, b:2,,  c:3 ")
    assert LeaderSettings().agents == ["a:1", "b:2", "c:3"]


def test_discovery_interfaces_from_env_are_comma_separated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONCLAVE_LEADER_DISCOVERY_INTERFACES", "10.0.0.1,10.0.0.2")
    monkeypatch.setenv("CONCLAVE_AGENT_ANNOUNCE_INTERFACES", " 192.168.1.5 ")
    assert LeaderSettings().discovery_interfaces == ["10.0.0.1", "10.0.0.2"]
    assert AgentSettings().announce_interfaces == ["192.168.1.5"]


def test_leader_agents_from_a_file_as_list_or_string(tmp_path: Path) -> None:
    as_list = write(tmp_path / "list.yaml", "agents:\n  - a:1\n  - b:2\n")
    as_text = write(tmp_path / "text.toml", 'agents = "a:1, b:2"\n')
    assert LeaderSettings(config_file=as_list).agents == ["a:1", "b:2"]
    assert LeaderSettings(config_file=as_text).agents == ["a:1", "b:2"]


def test_leader_agents_kwarg_may_be_a_comma_string() -> None:
    assert LeaderSettings(agents="x:1,y:2").agents == ["x:1", "y:2"]


def test_participants_from_a_yaml_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "leader.yaml",
        "participants:\n"
        "  - name: skeptic\n"
        "    address: blade1:50051\n"
        "    system_prompt: Doubt everything.\n"
        "    weight: 2\n"
        "  - {name: plain, address: blade2:50051}\n",
    )
    s = LeaderSettings(config_file=path)
    assert s.participants == [
        ParticipantConfig(
            name="skeptic",
            address="blade1:50051",
            system_prompt="Doubt everything.",
            weight=2.0,
        ),
        ParticipantConfig(name="plain", address="blade2:50051"),
    ]


def test_participants_from_env_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CONCLAVE_LEADER_PARTICIPANTS", '[{"name": "p", "address": "h:1", "temperature": 0.2}]'
    )
    assert LeaderSettings().participants == [
        ParticipantConfig(name="p", address="h:1", temperature=0.2)
    ]


# -- errors ------------------------------------------------------------------------------


def test_a_missing_config_file_raises_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ValueError, match=r"config file .*nope\.yaml does not exist"):
        AgentSettings(config_file=missing)


def test_a_missing_config_file_named_by_env_raises_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONCLAVE_LEADER_CONFIG_FILE", str(tmp_path / "gone.toml"))
    with pytest.raises(ValueError, match="does not exist"):
        LeaderSettings()


def test_a_config_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "list.yaml", "- port\n- 1\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        AgentSettings(config_file=path)


def test_a_bad_value_in_the_file_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path / "agent.yaml", "port: 70000\n")
    with pytest.raises(ValidationError, match="port"):
        AgentSettings(config_file=path)


def test_a_bad_value_in_env_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCLAVE_AGENT_CHAT_FORMAT", "llama3")
    with pytest.raises(ValidationError, match="chat_format"):
        AgentSettings()


def test_an_unknown_participant_key_in_the_file_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "leader.yaml", "participants:\n  - {name: p, address: h:1, wieght: 2}\n"
    )
    with pytest.raises(ValidationError, match="wieght"):
        LeaderSettings(config_file=path)


@pytest.mark.parametrize("cls", [AgentSettings, LeaderSettings])
def test_unknown_init_kwargs_are_refused(cls: type) -> None:
    with pytest.raises(ValidationError, match="prot"):
        cls(prot=1)


def test_an_unknown_key_in_the_config_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "agent.yaml", "prot: 6001\n")
    with pytest.raises(ValueError, match="prot"):
        AgentSettings(config_file=path)


def test_an_unknown_key_in_the_config_file_suggests_the_setting_meant(tmp_path: Path) -> None:
    path = write(tmp_path / "agent.yaml", "prot: 6001\nhost: 0.0.0.0\n")
    with pytest.raises(ValueError, match=r"prot \(did you mean port\?\)"):
        AgentSettings(config_file=path)


# -- read_config_file --------------------------------------------------------------------


def test_read_config_file_parses_toml_by_suffix_and_yaml_otherwise(tmp_path: Path) -> None:
    assert read_config_file(write(tmp_path / "a.toml", "x-y = 1\n")) == {"x_y": 1}
    assert read_config_file(write(tmp_path / "a.yml", "x-y: 1\n")) == {"x_y": 1}
    assert read_config_file(write(tmp_path / "a.conf", "z: [1, 2]\n")) == {"z": [1, 2]}


def test_read_config_file_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        read_config_file(tmp_path)
