"""Renders docs/configuration.md from the settings classes, so the reference cannot drift
from the code (`make docs` writes it; a test checks it is fresh)."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from conclave.gateway.mcp.settings import McpSettings
from conclave.gateway.settings import GatewaySettings
from conclave.leader.settings import LeaderSettings, ParticipantConfig
from conclave.services.settings import AgentSettings, ModelEntry
from conclave.settings_fields import MACHINE_DEFAULTS, default_text, env_name, flag_name
from conclave.startup import EXIT_CODE_MEANINGS
from conclave.swarm_security import SwarmClientSettings

DEPLOYABLES = (
    ("Agent service", "conclave agent", AgentSettings),
    ("Leader", "conclave leader", LeaderSettings),
    ("Gateway", "conclave gateway", GatewaySettings),
    ("MCP server on stdio", "conclave mcp", McpSettings),
    (
        "Command-line clients of the swarm",
        "conclave ask`, `conclave agent call`, `conclave experiment run",
        SwarmClientSettings,
    ),
)
NESTED = (
    ("Agent `models` entries", ModelEntry),
    ("Leader `participants` entries", ParticipantConfig),
)


def _type(field: FieldInfo) -> str:
    text = str(field.annotation).replace("typing.", "").replace("pathlib.", "")
    for noise in (
        "<class '",
        "'>",
        "conclave.services.settings.",
        "conclave.leader.settings.",
        "pydantic.types.",
    ):
        text = text.replace(noise, "")
    return text.replace("|", "\\|")


def _default(name: str, field: FieldInfo) -> str:
    text = default_text(name, field)
    if text is None:
        return "(required)" if field.is_required() else "—"
    return text if text == MACHINE_DEFAULTS.get(name) else f"`{text}`"


def _table(cls: type[BaseModel]) -> list[str]:
    settings = env_name(cls, "x") is not None
    head = (
        "| setting | flag | env | type | default | meaning |"
        if settings
        else "| key | type | default | meaning |"
    )
    rule = "|---|---|---|---|---|---|" if settings else "|---|---|---|---|"
    rows = [head, rule]
    for name, field in cls.model_fields.items():
        cells = [f"`{name}`"]
        if settings:
            flag = flag_name(name, field)
            cells.append(f"`{flag}`" if flag else "config/env only")
            cells.append(f"`{env_name(cls, name)}`")
        cells += [
            _type(field),
            _default(name, field),
            (field.description or "").replace("|", "\\|"),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def render() -> str:
    out = [
        "# Configuration reference",
        "",
        "Generated from the settings classes by `make docs`; do not edit by hand.",
        "",
        "Every deployable reads, highest precedence first: its command-line flags, its",
        "environment variables (prefix below; lists are comma-separated), its config file",
        "(YAML or TOML, named by `--config` or the `CONFIG_FILE` variable; unknown keys are",
        'refused with a suggestion), then the defaults. Defaults marked "from the hardware"',
        "come from `conclave doctor`'s detection. A setting whose *flag* says",
        '"config/env only" holds entries that do not fit a command line: give them in the',
        "config file (or as JSON in the environment variable). `config_file` is also",
        "`--config`. `conclave up` has flags of its own (`conclave up --help`); the",
        "other settings of the services it starts come from their environment variables.",
        "",
    ]
    for title, command, cls in DEPLOYABLES:
        prefix = cls.model_config.get("env_prefix", "")
        out += [f"## {title} (`{command}`, env prefix `{prefix}`)", ""]
        out += _table(cls)
        out.append("")
    for title, cls in NESTED:
        out += [f"## {title}", ""]
        out += _table(cls)
        out.append("")
    out += [
        "## Exit codes of a failed start",
        "",
        "A deployable (`conclave agent`, `leader`, `gateway`, `mcp`, `up`) that cannot start",
        "exits at once with one line on stderr that names the setting and the fix, and",
        "with a code that tells the kind of failure (so systemd or Kubernetes can tell a",
        "typo from a busy port). A stopped service exits 0.",
        "",
        "| code | meaning |",
        "|---|---|",
        *(f"| {int(code)} | {meaning} |" for code, meaning in EXIT_CODE_MEANINGS.items()),
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
