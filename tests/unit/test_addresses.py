"""Service addresses are checked by syntax before anything dials them (no DNS for text
that cannot be a host name), and a bad one is a one-line refusal at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from conclave.addresses import check_address
from conclave.cli.main import main
from conclave.startup import ExitCode


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("127.0.0.1:50051", "127.0.0.1:50051"),
        (" agent-1.local:1 ", "agent-1.local:1"),
        ("conclave-agents.conclave.svc.cluster.local:65535", None),
        ("[::1]:50051", "[::1]:50051"),
        ("localhost:050051", "localhost:50051"),
    ],
)
def test_good_addresses_pass(text, normal):
    assert check_address(text) == (normal or text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("127.0.0.1:99999", "outside 1-65535"),
        ("127.0.0.1:0", "outside 1-65535"),
        ("127.0.0.1:abc", "'abc' is not a number"),
        ("127.0.0.1:", "'' is not a number"),
        ("nonsense", "is not HOST:PORT"),
        (":50051", "is not HOST:PORT"),
        ("::1:50051", "in brackets"),
        ("[::g]:50051", "not an IPv6 address"),
        ("[::1]50051", "is not HOST:PORT"),
        ("1.2.3.999:50051", "not an IP address or a host name"),
        ("bad_host:50051", "not an IP address or a host name"),
        ("-lead.example:50051", "not an IP address or a host name"),
        ("a b:50051", "not an IP address or a host name"),
        ("127.0.0.1:５", "not a number"),  # a full-width digit: isdigit() alone says yes
    ],
)
def test_bad_addresses_say_what_is_wrong(text, why):
    with pytest.raises(ValueError, match=why):
        check_address(text)


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["leader", "--agents", "127.0.0.1:99999"], ExitCode.SETTINGS, ["--agents", "99999"]),
        (["leader", "--agents", "nonsense"], ExitCode.SETTINGS, ["'nonsense' is not HOST:PORT"]),
        (["gateway", "--leader", "127.0.0.1:abc"], ExitCode.SETTINGS, ["--leader", "'abc'"]),
        (["mcp", "--leader", "x:99999"], ExitCode.SETTINGS, ["CONCLAVE_MCP_LEADER"]),
        (["agent", "--port", "70000"], ExitCode.SETTINGS, ["--port (CONCLAVE_AGENT_PORT)"]),
        (["agent", "--config", "{tmp}"], ExitCode.CONFIG_FILE, ["is a directory"]),
        (["agent", "--config", "{tmp}/absent.yaml"], ExitCode.CONFIG_FILE, ["does not exist"]),
        (["leader", "--config", "{tmp}/latin1.yaml"], ExitCode.CONFIG_FILE, ["not UTF-8"]),
        (["gateway", "--config", "{tmp}/broken.toml"], ExitCode.CONFIG_FILE, ["not valid TOML"]),
        (["gateway", "--config", "{tmp}/typo.yaml"], ExitCode.CONFIG_FILE, ["did you mean port"]),
        (
            ["leader", "--config", "{tmp}/participants.yaml"],
            ExitCode.SETTINGS,
            ["participants[0].address (config file)", "outside 1-65535"],
        ),
    ],
)
def test_invalid_settings_are_one_line_and_a_distinct_code(args, code, words, tmp_path, capsys):
    write(tmp_path / "latin1.yaml", "name: caf\xe9\n".encode("latin-1"))
    write(tmp_path / "broken.toml", "port = \n")
    write(tmp_path / "typo.yaml", "prot: 1\n")
    write(tmp_path / "participants.yaml", "participants:\n  - {name: a, address: 'h:99999'}\n")
    assert main([a.format(tmp=tmp_path) for a in args]) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err
