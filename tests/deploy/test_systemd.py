"""The systemd units: `systemd-analyze verify` accepts them, `systemd-analyze security` rates
them well, and each has the hardening and start check the deploy contract promises.

verify checks that every Exec* binary exists. The units name the real install path
(/opt/conclave/venv/bin/...), so they are verified inside a scratch root (--root) holding
executable stand-ins at those paths plus a copy of the host's own unit directory (the
targets they order against): the unit files themselves are not changed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, need

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SYSTEM_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
MAX_EXPOSURE = 2.5  # systemd-analyze security: 0 = locked down, 10 = fully exposed


def test_the_three_units_exist() -> None:
    names = {u.name for u in UNITS}
    assert names == {
        "conclave-agent.service",
        "conclave-leader.service",
        "conclave-gateway.service",
    }


@pytest.fixture(scope="module")
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("systemd-analyze")
    root = tmp_path_factory.mktemp("root")
    system = next((d for d in SYSTEM_UNIT_DIRS if (d / "sysinit.target").exists()), None)
    if system is None:
        pytest.skip("no systemd unit directory with sysinit.target (apt-get install systemd)")
    shutil.copytree(system, root / "usr/lib/systemd/system", symlinks=True)
    binaries = set()
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            match = re.match(r"^Exec\w+=[-@:+!]*(/\S+)", line)
            if match:
                binaries.add(match.group(1))
    assert binaries == {"/opt/conclave/venv/bin/conclave", "/opt/conclave/venv/bin/python"}
    for binary in binaries:
        stub = root / binary.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, units / unit.name)
    return root


def _analyze(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args, f"--root={root}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_accepts_the_unit(scratch_root: Path, unit: Path) -> None:
    installed = scratch_root / "etc/systemd/system" / unit.name
    result = _analyze(scratch_root, "verify", "--man=no", str(installed))
    # verify exits 0 on unknown keys and bad values but prints them: both must be silent.
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", (
        result.stdout + result.stderr
    )


def test_verify_does_catch_mistakes(scratch_root: Path) -> None:
    bad = scratch_root / "etc/systemd/system/conclave-broken.service"
    text = (DEPLOY / "systemd/conclave-agent.service").read_text()
    broken = text.replace("ProtectSystem=strict", "ProtectSystem=strictest\nRestart=sometimes")
    bad.write_text(broken)
    try:
        result = _analyze(scratch_root, "verify", "--man=no", str(bad))
    finally:
        bad.unlink()
    assert "strictest" in result.stderr and "sometimes" in result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_security_exposure_is_low(scratch_root: Path, unit: Path) -> None:
    result = _analyze(
        scratch_root, "security", "--offline=yes", "--no-pager",
        str(scratch_root / "etc/systemd/system" / unit.name),
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-500:] + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def _service_section(unit: Path) -> dict[str, list[str]]:
    """[Service] keys to their values (keys may repeat: Environment=)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in unit.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_hardening_and_start_check(unit: Path) -> None:
    service = _service_section(unit)
    expected = {
        "User": "conclave",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "Restart": "on-failure",
        "StateDirectory": "conclave",
        "CacheDirectory": "conclave",
    }
    for key, value in expected.items():
        assert service.get(key) == [value], f"{unit.name}: {key}={service.get(key)}"
    assert service["MemoryMax"], "MemoryMax must have a default (drop-ins override it)"
    assert service["CapabilityBoundingSet"] == [""]
    # Readiness: the unit is active only once the service's health endpoint says so.
    [check] = service["ExecStartPost"]
    assert "-m conclave.deploy.healthcheck" in check and "--wait" in check
    [start] = service["ExecStart"]
    assert start.startswith("/opt/conclave/venv/bin/conclave ")
    assert any(e.startswith("-/etc/conclave/") for e in service["EnvironmentFile"])
    # Secrets never on the command line.
    assert "api-key" not in start and "API_KEY" not in start


def test_agent_unit_listens_for_the_swarm_and_announces() -> None:
    service = _service_section(DEPLOY / "systemd/conclave-agent.service")
    env = service["Environment"]
    assert "CONCLAVE_AGENT_HOST=0.0.0.0" in env
    assert "CONCLAVE_AGENT_PORT=50051" in env
    assert "CONCLAVE_AGENT_ANNOUNCE=true" in env
    assert "--host ${CONCLAVE_AGENT_HOST} --port ${CONCLAVE_AGENT_PORT}" in service["ExecStart"][0]
    assert "AF_NETLINK" in service["RestrictAddressFamilies"][0]  # zeroconf lists interfaces


def test_leader_env_settings_are_not_overridden_by_the_command_line() -> None:
    # Every flag on ExecStart takes its value from a variable that leader.env (read after
    # Environment=) may set: a literal there would silently win over the file.
    service = _service_section(DEPLOY / "systemd/conclave-leader.service")
    start = service["ExecStart"][0]
    for flag, variable in [
        ("--host", "CONCLAVE_LEADER_HOST"),
        ("--port", "CONCLAVE_LEADER_PORT"),
        ("--db", "CONCLAVE_LEADER_DB"),
    ]:
        assert f"{flag} ${{{variable}}}" in start
        assert any(e.startswith(f"{variable}=") for e in service["Environment"])
    assert "CONCLAVE_LEADER_DB=%S/conclave/rounds.db" in service["Environment"]


def test_command_line_spellings_match_the_command_surface() -> None:
    leader = _service_section(DEPLOY / "systemd/conclave-leader.service")["ExecStart"][0]
    gateway = _service_section(DEPLOY / "systemd/conclave-gateway.service")["ExecStart"][0]
    assert " leader --host " in leader and " --port " in leader and " --db " in leader
    assert "LEADER_ARGS=--discover" in " ".join(
        _service_section(DEPLOY / "systemd/conclave-leader.service")["Environment"]
    )
    assert " gateway --host " in gateway and " --leader " in gateway


@pytest.mark.parametrize("kind", ["agent", "leader"])
def test_the_grpc_start_check_dials_with_the_services_swarm_settings(kind: str) -> None:
    """A TLS port answers only over TLS: the check must use the unit's own certificates."""
    [check] = _service_section(DEPLOY / f"systemd/conclave-{kind}.service")["ExecStartPost"]
    assert f"--settings-env CONCLAVE_{kind.upper()}_ " in check
