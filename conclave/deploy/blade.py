"""What makes one blade different from the next: its name and where it gets its software.

Everything per-blade goes into two small files on the boot partition, so `user-data` stays
the same on every blade: `conclave/blade.env` (read by the first-boot script, KEY=VALUE
lines, never executed by a shell) and cloud-init's `meta-data` (instance id and hostname).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conclave.deploy.errors import ImageError

# RFC 1123 host label: what hostnamectl, mDNS (blade-01.local) and Kubernetes node names take.
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# systemd's MemoryMax= syntax: bytes with an optional K/M/G/T suffix, a percentage, infinity.
_MEMORY_MAX = re.compile(r"^(\d+(\.\d+)?[KMGT]?|\d{1,3}%|infinity)$")
_ENV_NAME = re.compile(r"^CONCLAVE_AGENT_[A-Z0-9_]+$")
_URL = re.compile(r"^https?://[^\s'\"\\]+$")
_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")

WHEELHOUSE_DIR = "wheelhouse"  # on the boot partition, under conclave/
MODELS_DIR = "models"
SOURCE_DIR = "src"


def check_name(name: str) -> str:
    if not _HOSTNAME.match(name):
        raise ImageError(
            f"blade name {name!r} is not a valid hostname: use lowercase letters, digits and "
            "'-', at most 63 characters, not starting or ending with '-'"
        )
    return name


def expand_names(name: str, count: int) -> list[str]:
    """`count` numbered names from `name`: blade-01 x3 -> blade-01, blade-02, blade-03;
    a name without a trailing number gets one: blade x3 -> blade-01 .. blade-03."""
    if count < 1:
        raise ImageError(f"--count must be at least 1, not {count}")
    if count == 1:
        return [check_name(name)]
    match = _TRAILING_NUMBER.match(name)
    if match:
        stem, digits = match.group(1), match.group(2)
        first, width = int(digits), len(digits)
    else:
        stem, first, width = f"{name}-", 1, 2
    width = max(width, len(str(first + count - 1)))
    return [check_name(f"{stem}{n:0{width}d}") for n in range(first, first + count)]


@dataclass(frozen=True, slots=True)
class BladeConfig:
    name: str
    # "wheelhouse" (copied onto the boot partition), an http(s) URL (served by the head
    # node), or "" (no wheelhouse: the blade compiles llama-cpp-python itself).
    wheelhouse: str = ""
    model_file: str = ""  # e.g. "models/x.gguf" under conclave/ on the boot partition
    memory_max: str = ""  # systemd MemoryMax= of the agent; "" keeps the unit's default
    agent_env: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    swarm: str = ""  # "swarm": conclave/swarm/ holds the token and certificates

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.wheelhouse not in ("", WHEELHOUSE_DIR) and not _URL.match(self.wheelhouse):
            raise ImageError(f"wheelhouse {self.wheelhouse!r} is neither a directory nor a URL")
        if self.memory_max and not _MEMORY_MAX.match(self.memory_max):
            raise ImageError(
                f"memory max {self.memory_max!r} is not systemd MemoryMax= syntax "
                "(e.g. 3G, 2500M, 75%, infinity)"
            )
        for key, value in self.agent_env:
            check_env(key, value)

    def env_text(self) -> str:
        lines = [
            "# Conclave blade configuration, written by `conclave image build`.",
            "# Read once by conclave/firstboot.sh on the first boot (KEY=VALUE lines; not run",
            "# by a shell). Extra CONCLAVE_AGENT_* lines become settings of the agent service.",
            f"CONCLAVE_BLADE_NAME={self.name}",
            f"CONCLAVE_WHEELHOUSE={self.wheelhouse}",
            f"CONCLAVE_MODEL_FILE={self.model_file}",
            f"CONCLAVE_MEMORY_MAX={self.memory_max}",
        ]
        if self.swarm:
            lines.append(f"CONCLAVE_SWARM={self.swarm}")
        lines += [f"{key}={value}" for key, value in self.agent_env]
        return "\n".join(lines) + "\n"

    def meta_data_text(self) -> str:
        # A per-blade instance id makes cloud-init treat each blade as its own instance;
        # local-hostname sets the hostname before any network service starts.
        return f"instance-id: conclave-{self.name}\nlocal-hostname: {self.name}\n"


def check_env(key: str, value: str) -> None:
    if not _ENV_NAME.match(key):
        raise ImageError(f"{key!r}: only CONCLAVE_AGENT_* settings may be set per blade")
    if any(ch in value for ch in "\n\r\0"):
        raise ImageError(f"{key}: the value may not contain line breaks")


def parse_env_assignment(text: str) -> tuple[str, str]:
    """KEY=VALUE from the command line."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ImageError(f"{text!r} is not KEY=VALUE")
    check_env(key, value)
    return key, value
