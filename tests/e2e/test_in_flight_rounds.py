"""Rounds in flight when the leader dies: on disk from their start, `interrupted` after
the next leader starts, never a 404 for the id a client was given."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.support.processes import LeaderProcess
from tests.support.servers import RunningGateway, gateway_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Greedy, a base model keeps counting: `slow` is reliably still talking when it is killed
# (a story may end after a few sentences, and the round with it).
COUNTING = [{"role": "user", "content": "Count from 1 to 1000, separated by commas."}]
WAIT_S = 120.0  # a bound on waiting for the swarm, not a measurement


def _voices(address: str) -> str:
    """Two voices on one agent: `quick` answers in two tokens, `slow` is still talking
    when the leader is killed."""
    return json.dumps(
        [
            {"name": "quick", "address": address, "max_tokens": 2},
            {"name": "slow", "address": address, "max_tokens": 600},
        ]
    )


def _round(gateway: RunningGateway, round_id: str) -> httpx.Response:
    return httpx.get(f"{gateway.url}/v1/rounds/{round_id}", timeout=10)


def _wait_for(what: str, check):
    deadline = time.monotonic() + WAIT_S
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_a_round_in_flight_when_the_leader_is_killed_is_interrupted_not_missing(agent, tmp_path):
    db = tmp_path / "rounds.db"
    args = ("--db", str(db))
    env = {"CONCLAVE_LEADER_PARTICIPANTS": _voices(agent.address)}
    leader = LeaderProcess(*args, env=env)
    port = int(leader.address.rsplit(":", 1)[1])
    try:
        with RunningGateway(gateway_settings(leader.address)) as gateway:
            body = {
                "model": "conclave-vote",
                "messages": COUNTING,
                "max_tokens": 600,
                "temperature": 0,
                "stream": True,
                "conclave": {"params": {"extract": "text"}},
            }
            with httpx.stream(
                "POST", f"{gateway.url}/v1/chat/completions", json=body, timeout=300
            ) as stream:
                assert stream.status_code == 200
                round_id = stream.headers["x-conclave-round-id"]

                # While it runs, the round is stored, and `quick` is in it once it answered.
                def quick_heard():
                    record = _round(gateway, round_id).json()
                    return record if record["candidates"] else None

                running = _wait_for("quick's answer", quick_heard)
                assert running["status"] == "running", running["candidates"]
                assert [c["participant"] for c in running["candidates"]] == ["quick"]

                leader.kill()  # kill -9, mid-round: `slow` is still generating
                rest = [line for line in stream.iter_lines() if line]
            # The client's stream ends (an in-band error, then [DONE]); it does not hang.
            assert rest[-1] == "data: [DONE]"
            assert any('"error"' in line for line in rest)

            leader = LeaderProcess(*args, port=port, env=env)  # same file, same address
            after = _wait_for(
                "the restarted leader", lambda: (r := _round(gateway, round_id)).is_success and r
            ).json()
    finally:
        leader.kill()
    assert after["id"] == round_id
    assert after["status"] == "interrupted"
    assert "leader stopped" in after["error"]
    heard = after["candidates"]
    assert [c["participant"] for c in heard] == ["quick"]
    assert heard[0]["finish_reason"] == "length" and heard[0]["text"]
    assert [p["name"] for p in after["participants"]] == ["quick", "slow"]
