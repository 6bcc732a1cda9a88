"""`conclave up` past one box: an agent service started on its own (as on a second PC or
a Pi blade) joins the swarm by address, and the swarm's rounds are answered by it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conclave.services.model_source import SMOLLM2, default_cache_dir
from conclave.swarm import DEFAULT_VOICE_MODELS
from tests.support.processes import AgentProcess, read_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

UP = (sys.executable, "-m", "conclave.cli.main", "up")
FREE_PORTS = ("--port", "0", "--leader-port", "0")
ASK = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture(scope="module")
def far():
    """An agent service started on its own, as on a second PC (it serves both bundled
    models, the Gemma one by default)."""
    announce = ("--announce", "--announce-interfaces", "127.0.0.1")  # zeroconf, loopback only
    with AgentProcess("--slots", "3", *announce, name="far-agent") as running:
        yield running


def ask_the_swarm(proc: subprocess.Popen) -> tuple[str, list[str], dict]:
    """The gateway, the agents `conclave up` lists, and the round that answers one
    question."""
    url = read_until(proc, r"gateway \(OpenAI API\)\s+(http://\S+)/v1", timeout=300)
    listed = read_until(proc, r"agents \(gRPC\)\s+(.*)$", timeout=60)
    reply = httpx.post(
        f"{url}/v1/chat/completions",
        timeout=300,
        json={
            "model": "conclave-vote",
            "max_tokens": 8,
            "seed": 7,
            "messages": [{"role": "user", "content": "Name a colour."}],
        },
    )
    assert reply.status_code == 200, reply.text
    held = httpx.get(f"{url}/v1/rounds/{reply.headers['x-conclave-round-id']}").json()
    assert held["status"] == "decided"
    # The line ends with the decode threads of the local agents (fair sharing on one host).
    listed = re.sub(r"\s*\(\d+ decode thread\(s\) each\)\s*$", "", listed)
    return url, [a.strip() for a in listed.split(",")], held


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    assert read_until(proc, r"(stopped\.)", timeout=120) == "stopped."
    assert proc.wait(timeout=30) == 0


def up(*args: str, state: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*UP, *args, *FREE_PORTS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(state), **env},
    )


def test_up_joins_an_agent_started_elsewhere_instead_of_its_own(far, tmp_path):
    proc = up("--host", "127.0.0.1", "--agents", "0", "--agents-at", far.address, state=tmp_path)
    try:
        _, listed, held = ask_the_swarm(proc)
        assert listed == [far.address]  # the joined agent, and no local one
        # Every voice speaks through the agent started elsewhere, as the default team.
        assert {p["address"] for p in held["participants"]} == {far.address}
        assert [p["model"] for p in held["participants"]] == list(DEFAULT_VOICE_MODELS)
        assert len(held["candidates"]) == len(DEFAULT_VOICE_MODELS)
        assert all(c["participant"].startswith("far-agent") for c in held["candidates"])
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()


def test_up_serves_a_gguf_file_beside_a_joined_agent(far, tmp_path):
    # A GGUF of the user's own, by path: the bundled SmolLM2 file under another name.
    own = tmp_path / "my-own-model.gguf"
    own.symlink_to(SMOLLM2.locate(default_cache_dir()))
    # One local agent (the default) beside the joined one.
    proc = up("--model", str(own), "--agent-port", "0", "--agents-at", far.address, state=tmp_path)
    try:
        url, listed, held = ask_the_swarm(proc)
        assert len(listed) == 2 and listed[1] == far.address and listed[0].endswith("(here)")
        local = listed[0].removesuffix("(here)").strip()
        # Three voices on each agent, all of them in the round.
        where = {p["name"]: p["address"] for p in held["participants"]}
        assert sorted(where.values()) == sorted([local] * 3 + [far.address] * 3)
        assert {c["participant"] for c in held["candidates"]} == set(where)
        # The local voices answer with the file (named after it), the joined ones with
        # their agent's default model.
        cards = httpx.get(f"{url}/v1/models").json()["data"]
        voices = {
            c["id"].removeprefix("agent/"): c["conclave"] for c in cards if "agent/" in c["id"]
        }
        assert {voices[n]["model"] for n, a in where.items() if a == local} == {"my-own-model"}
        assert {voices[n]["model"] for n, a in where.items() if a == far.address} == {
            "gemma-3-270m-q4_k_m"
        }
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()


def test_up_discovers_an_agent_that_announces_itself(far, tmp_path):
    # The leader's own setting, from the environment: browse the loopback interface only.
    proc = up(
        "--agents",
        "0",
        "--discover",
        state=tmp_path,
        CONCLAVE_LEADER_DISCOVERY_INTERFACES="127.0.0.1",
    )
    try:
        url = read_until(proc, r"gateway \(OpenAI API\)\s+(http://\S+)/v1", timeout=300)
        deadline = time.monotonic() + 60  # an announcement takes a moment to be seen
        found: list[dict] = []
        while not found and time.monotonic() < deadline:
            found = httpx.get(f"{url}/v1/agents").json()["data"]
            time.sleep(0.5)
        assert [(a["address"], a["source"]) for a in found] == [(far.address, "zeroconf")]
        reply = httpx.post(
            f"{url}/v1/chat/completions",
            timeout=300,
            json={"model": "conclave-vote", "max_tokens": 8, "messages": ASK},
        )
        assert reply.status_code == 200, reply.text
        held = httpx.get(f"{url}/v1/rounds/{reply.headers['x-conclave-round-id']}").json()
        assert {p["address"] for p in held["participants"]} == {far.address}
        # Found later, so nobody checked what it serves: each voice on its default model.
        assert {p["model"] for p in held["participants"]} == {""}
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()


def test_up_refuses_an_agent_address_that_does_not_answer(tmp_path):
    done = subprocess.run(
        [*UP, "--agents-at", "127.0.0.1:1", *FREE_PORTS],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 2  # a setting that cannot be used (docs/configuration.md)
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert lines[-1].startswith("conclave up: agents_at: the agent at 127.0.0.1:1 does not answer")


def test_up_refuses_a_malformed_agent_address():
    done = subprocess.run(
        [*UP, "--agents-at", "blade-01.local"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--agents-at: 'blade-01.local' is not HOST:PORT" in done.stderr.strip().splitlines()[-1]
