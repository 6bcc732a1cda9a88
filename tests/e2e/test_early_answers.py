"""Early answers on the real stack: a `vote` whose outcome is settled answers at once, in
every door, while a straggler was still generating; the straggler is stopped and the
stored round is whole (decided, every voice accounted) when the caller looks it up.

The straggler is made deterministically: three voices on one agent read the same prompt
greedily, two may say 8 tokens, the third 600 of a count that does not end; the two
short ones agree the moment they finish, long before the third could."""

from __future__ import annotations

import json

import grpc
import httpx
import pytest
from google.protobuf import json_format
from openai import OpenAI

from conclave.v1 import agent_pb2, leader_pb2, leader_pb2_grpc
from tests.support.servers import RunningGateway, RunningLeader, gateway_settings, leader_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

COUNT = "Count from 1 to 300: 1, 2, 3, 4, 5,"
VOICES = ("quick-1", "quick-2", "straggler")


@pytest.fixture(scope="module")
def leader(agent, tmp_path_factory):
    db = tmp_path_factory.mktemp("early_answers") / "rounds.db"
    participants = [
        {"name": "quick-1", "address": agent.address, "max_tokens": 8},
        {"name": "quick-2", "address": agent.address, "max_tokens": 8},
        {"name": "straggler", "address": agent.address, "max_tokens": 600},
    ]
    with RunningLeader(leader_settings(db, participants=participants)) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(leader):
    with RunningGateway(gateway_settings(leader.address)) as running:
        yield running


def assert_answered_early(candidates: list[dict]) -> None:
    """The two quick voices answered alike; the straggler was stopped mid-count, its
    words so far kept, and it did not vote."""
    by_name = {c["participant"]: c for c in candidates}
    assert sorted(by_name) == sorted(VOICES)
    assert by_name["quick-1"]["finish_reason"] == by_name["quick-2"]["finish_reason"] == "length"
    assert by_name["quick-1"]["text"] == by_name["quick-2"]["text"]
    straggler = by_name["straggler"]
    assert straggler["finish_reason"] == "cancelled"
    assert "stopped early" in straggler["error"]
    # It had been generating when the answer was settled: the same greedy start.
    assert straggler["text"] and by_name["quick-1"]["text"].startswith(straggler["text"][:3])


def test_the_leader_stream_decides_at_once_and_get_round_reads_the_whole_round(leader):
    request = leader_pb2.RunRoundRequest(
        messages=[agent_pb2.ChatMessage(role="user", content=COUNT)],
        participants=list(VOICES),
        temperature=0.0,
    )
    with grpc.insecure_channel(leader.address) as channel:
        stub = leader_pb2_grpc.LeaderServiceStub(channel)
        stream = stub.RunRound(request, timeout=120)
        kinds: list[str] = []
        for event in stream:
            kinds.append(event.WhichOneof("event"))
            if event.HasField("decided"):
                break
        decided = event.decided
        # Asked right away, before the stream is read to its end: the round whole.
        stored = stub.GetRound(leader_pb2.GetRoundRequest(id=decided.id), timeout=30)
        assert list(stream) == []  # nothing follows the decided round
    assert kinds[0] == "started" and kinds[-1] == "decided" and kinds.count("candidate") == 3
    assert decided.status == "decided" and decided.decision.agreement == 1.0
    assert decided.candidates[decided.decision.winner].participant in ("quick-1", "quick-2")
    assert_answered_early([json.loads(_json(c)) for c in decided.candidates])
    assert stored == decided


def test_openai_streaming_and_whole_answers_come_from_the_settled_vote(gateway):
    client = OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    body = {"conclave": {"participants": list(VOICES)}}
    ask = [{"role": "user", "content": COUNT}]
    chunks = list(
        client.chat.completions.create(
            model="conclave-vote", messages=ask, temperature=0, stream=True, extra_body=body
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["length"]
    round_id = chunks[0].id.removeprefix("chatcmpl-")
    stored = httpx.get(f"{gateway.url}/v1/rounds/{round_id}", timeout=30).json()
    assert stored["status"] == "decided"
    assert_answered_early(stored["candidates"])
    assert text == stored["candidates"][stored["decision"]["winner"]]["text"]

    whole = client.chat.completions.create(
        model="conclave-vote", messages=ask, temperature=0, extra_body=body
    )
    assert whole.choices[0].message.content == text
    again = httpx.get(f"{gateway.url}/v1/rounds/{whole.model_extra['conclave']['round_id']}")
    assert again.json()["status"] == "decided"
    assert_answered_early(again.json()["candidates"])


def test_the_rounds_stream_ends_with_the_decided_round_after_the_stopped_straggler(gateway):
    body = {
        "model": "conclave-vote",
        "messages": [{"role": "user", "content": COUNT}],
        "temperature": 0,
        "conclave": {"participants": list(VOICES)},
    }
    events: list[tuple[str, dict]] = []
    with httpx.stream("POST", f"{gateway.url}/v1/rounds", json=body, timeout=120) as reply:
        assert reply.status_code == 200
        name = ""
        for line in reply.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    names = [n for n, _ in events]
    assert names[-1] == "round.decided"
    done = [payload for n, payload in events if n == "candidate.done"]
    assert [c["participant"] for c in done][-1] == "straggler"  # stopped, then decided
    decided = events[-1][1]
    assert_answered_early(decided["candidates"])
    stored = httpx.get(f"{gateway.url}/v1/rounds/{decided['id']}", timeout=30).json()
    assert stored == decided


def _json(candidate: leader_pb2.Candidate) -> str:
    return json_format.MessageToJson(candidate, preserving_proto_field_name=True)
