"""Every example a user would paste runs as it stands: the `sh`, `bash` and `python`
blocks of README.md and docs/*.md (tests/support/doc_blocks.py finds them), against one
live local swarm started the way `make run` starts it (`conclave up`, on free ports).

What is the test's own, not the example's: the addresses (the docs' 8080, 50050 and
50051 become the swarm's ports; `conclave ask` without `--leader` and `conclave agent
call` without `--addr` get them too), `conclave` and `grpcurl` taken from this
interpreter's environment and this checkout, `make` told that the virtual environment is
set up, and a scratch folder as the working directory (a copy of experiments/, the rest
of the checkout linked). Blocks marked `doc-test: skip` are reported skipped with their
reason; `doc-test: check` blocks run with `--check` added to each experiment run."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.doc_blocks import ROOT, Block, pasted
from tests.support.processes import read_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BLOCKS = pasted()
VENV_BIN = Path(sys.executable).parent
UP = (sys.executable, "-m", "conclave.cli.main", "up")  # what `make run` runs
# What an example prints when a door answered with an error it did not exit on: an
# Anthropic or Responses error event in a stream, a JSON-RPC error, an MCP tool error.
IN_BAND_ERRORS = (
    "event: error",
    '"type":"response.failed"',
    '"error":{"code":',
    '"isError":true',
)
# An HTTP error body in any door's shape ({"error": {...}} for OpenAI, {"type": "error"}
# for Anthropic): `curl -s` exits 0 on a 404, so the body is what shows the failure.
ERROR_BODY = re.compile(r'"error":\s*\{|"type":\s*"error"')


def failures(output: str) -> list[str]:
    found = [marker for marker in IN_BAND_ERRORS if marker in output]
    return found + ERROR_BODY.findall(output)


@dataclass(frozen=True)
class Swarm:
    gateway: str  # http://127.0.0.1:PORT
    leader: str  # 127.0.0.1:PORT
    agent: str  # 127.0.0.1:PORT


@pytest.fixture(scope="module")
def swarm(tmp_path_factory):
    state = tmp_path_factory.mktemp("docs-swarm-state")
    proc = subprocess.Popen(
        [*UP, "--port", "0", "--leader-port", "0", "--agent-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(state)},
    )
    try:
        gateway = read_until(proc, r"gateway \(OpenAI API\)\s+(http://\S+)/v1", timeout=600)
        leader = read_until(proc, r"leader \(gRPC\)\s+(\S+)", timeout=30)
        agent = read_until(proc, r"agents \(gRPC\)\s+(\S+)", timeout=30)
        yield Swarm(gateway, leader, agent)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The checkout as the examples see it, where they may write (runs/, city.json, a
    regenerated dataset) without touching the repository."""
    work = tmp_path_factory.mktemp("docs-cwd")
    for entry in ROOT.iterdir():
        if entry.name in ("experiments", "runs") or entry.name.startswith(".git"):
            continue
        (work / entry.name).symlink_to(entry)
    shutil.copytree(ROOT / "experiments", work / "experiments")
    return work


@pytest.fixture(scope="module")
def user_env(swarm):
    """`conclave`, `grpcurl` and this checkout's code first, for the shell and for what
    the Python examples start (the MCP stdio example runs `conclave mcp`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        patch.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        )
        yield dict(os.environ)


def localized(code: str, swarm: Swarm) -> str:
    for host in ("127.0.0.1", "localhost"):
        code = code.replace(f"http://{host}:8080", swarm.gateway)
        code = code.replace(f"{host}:50050", swarm.leader)
        code = code.replace(f"{host}:50051", swarm.agent)
    return code


def shell_localized(code: str, swarm: Swarm) -> str:
    """Also the commands that reach the swarm at its default address without naming it,
    and `make`'s setup step, which the test's environment has done."""
    lines = []
    for line in localized(code, swarm).splitlines():
        if "conclave ask " in line and "--leader" not in line:
            line = line.replace("conclave ask ", f"conclave ask --leader {swarm.leader} ", 1)
        if "conclave agent call " in line and "--addr" not in line:
            line = line.replace(
                "conclave agent call ", f"conclave agent call --addr {swarm.agent} ", 1
            )
        line = re.sub(r"^make ", "make -o .venv/.installed ", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def checked(code: str) -> str:
    """Each experiment run of the block with `--check`: the config and the live leader
    checked, no round asked."""
    out = []
    for line in code.splitlines():
        command, hash_, comment = line.partition("  #")
        if re.search(r"\bconclave experiment run\b", command):
            command = command.rstrip() + " --check"
        elif re.search(r"^make\b.*\b(demo|experiment)\b", command):
            if 'ARGS="' in command:
                command = command.replace('ARGS="', 'ARGS="--check ', 1)
            else:
                command = command.rstrip() + " ARGS=--check"
        out.append(command + hash_ + comment)
    return "\n".join(out) + "\n"


def cases():
    for block in BLOCKS:
        marks = (
            [pytest.mark.skip(reason=f"{block.id}: {block.reason}")] if block.mode == "skip" else []
        )
        yield pytest.param(block, id=block.id, marks=marks)


@pytest.mark.parametrize("block", list(cases()))
def test_example_runs(block: Block, swarm, workdir, user_env, capsys, monkeypatch):
    if block.lang == "python":
        monkeypatch.chdir(workdir)
        code = localized(block.code, swarm)
        exec(compile(code, f"{block.id} (python example)", "exec"), {"__name__": "example"})
        shown = capsys.readouterr().out
        assert not failures(shown), shown
        return
    code = shell_localized(block.code, swarm)
    if block.mode == "check":
        code = checked(code)
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=workdir,
        env=user_env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert ran.returncode == 0, (
        f"{block.id} failed:\n{code}\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    )
    assert not failures(ran.stdout), ran.stdout
