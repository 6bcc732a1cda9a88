"""Every Python and shell example in docs/gateway.md runs as it stands against a real
swarm: only the addresses (the gateway's URL, the leader's address) and the way the
`conclave` command is started (this interpreter, this checkout) are the test's own. An
example that drifts from the code fails here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "gateway.md"
TEXT = DOC.read_text(encoding="utf-8")
PYTHON = re.findall(r"```python\n(.*?)```", TEXT, re.S)
SHELL = re.findall(r"```bash\n(.*?)```", TEXT, re.S)
# `conclave` as this checkout's code, whatever is installed: `python -m` from the root.
CONCLAVE = [sys.executable, "-m", "conclave.cli.main"]
STDIO_COMMAND = 'command="conclave", args=["mcp"'
# What an example prints when a door answered with an error it did not exit on: an
# Anthropic or Responses error event in a stream, a JSON-RPC error, an MCP tool error.
IN_BAND_ERRORS = (
    "event: error",
    '"type":"response.failed"',
    '"error":{"code":',
    '"isError":true',
)


def localized(code: str, gateway, leader) -> str:
    return code.replace("http://127.0.0.1:8080", gateway.url).replace(
        "127.0.0.1:50050", leader.address
    )


def test_the_page_has_its_examples():
    # Python: structured output (openai SDK, LangChain), the OpenAI client, Anthropic,
    # Responses, MCP over HTTP and over stdio.
    assert len(PYTHON) == 7
    # Shell: a multiple-choice question under an enum schema, a watched round
    # (POST /v1/rounds), Anthropic, Responses, MCP over HTTP and over stdio.
    assert len(SHELL) == 6
    # The test's own way of starting `conclave` must find what it replaces.
    assert [i for i, code in enumerate(PYTHON) if STDIO_COMMAND in code] == [6]
    assert [i for i, code in enumerate(SHELL) if "{ conclave mcp " in code] == [5]


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_example_runs(index, gateway, leader, capsys):
    code = localized(PYTHON[index], gateway, leader).replace(
        STDIO_COMMAND,
        f"command={CONCLAVE[0]!r}, args=[{CONCLAVE[1]!r}, {CONCLAVE[2]!r}, 'mcp'",
    )
    exec(compile(code, f"{DOC.name} python example {index + 1}", "exec"), {"__name__": "example"})
    assert capsys.readouterr().out.strip()  # every example shows what it got


@pytest.mark.parametrize("index", range(len(SHELL)))
def test_shell_example_runs(index, gateway, leader):
    code = localized(SHELL[index], gateway, leader).replace(
        "{ conclave mcp ", f"{{ {' '.join(CONCLAVE)} mcp "
    )
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}"
    assert '"round_id"' in ran.stdout  # every example reaches a round
    assert not [marker for marker in IN_BAND_ERRORS if marker in ran.stdout], ran.stdout
