"""Constrained decoding on the real agent service and the real bundled model: a 270M
base model that rambles left alone answers valid JSON, exactly, under a grammar."""

from __future__ import annotations

import json
import re
import threading
import time

import grpc
import jsonschema
import pytest

from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.e2e.test_agent_service import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 24}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}
QUESTION = "What is the capital of France? Name the city and its country."


def chat(text: str, **fields) -> pb.GenerateRequest:
    return pb.GenerateRequest(messages=[pb.ChatMessage(role="user", content=text)], **fields)


@pytest.fixture(scope="module")
def stub(channel):
    return agent_pb2_grpc.AgentServiceStub(channel)


def finished(stub, request: pb.GenerateRequest) -> list[pb.SampleFinished]:
    events = list(stub.Generate(request, timeout=600))
    done = {e.finished.index: e.finished for e in events if e.HasField("finished")}
    for index, fin in done.items():  # the deltas add up to each sample's text
        streamed = "".join(
            e.delta.text for e in events if e.HasField("delta") and e.delta.index == index
        )
        assert streamed == fin.text
    return [done[i] for i in sorted(done)]


def test_every_sample_is_json_of_the_schema(stub):
    samples = finished(
        stub,
        chat(QUESTION, json_schema=json.dumps(CITY), n=3, seed=5, temperature=0.9, max_tokens=48),
    )
    assert len(samples) == 3
    for sample in samples:
        assert sample.finish_reason == pb.FINISH_REASON_STOP, sample.text
        jsonschema.validate(json.loads(sample.text), CITY)


def test_a_gbnf_grammar_decides_the_words(stub):
    samples = finished(
        stub,
        chat("Is Paris in France?", grammar='root ::= "yes" | "no"', n=2, seed=3, max_tokens=8),
    )
    assert {s.text for s in samples} <= {"yes", "no"}
    assert all(s.finish_reason == pb.FINISH_REASON_STOP for s in samples)


def test_reason_first_writes_a_paragraph_then_the_marker_then_the_answer(stub):
    (sample,) = finished(
        stub,
        chat(
            "Which is larger, 3 or 5?",
            json_schema=json.dumps({"type": "integer"}),
            constrain_after="Answer:",
            temperature=0.0,
            max_tokens=96,
        ),
    )
    assert sample.finish_reason == pb.FINISH_REASON_STOP
    match = re.fullmatch(r"([^\n]*)\nAnswer: ?(-?\d+)", sample.text)
    assert match, sample.text
    assert isinstance(json.loads(match.group(2)), int)


def test_allow_text_answers_either_in_prose_or_in_json(stub):
    samples = finished(
        stub,
        chat(QUESTION, json_schema=json.dumps(CITY), allow_text=True, n=3, seed=1, max_tokens=40),
    )
    for sample in samples:
        if sample.text.startswith("{"):
            jsonschema.validate(json.loads(sample.text), CITY)
        else:
            assert sample.text and not sample.text[0].isspace()


def test_free_and_constrained_sequences_share_decode_steps_without_disturbing_each_other(stub):
    free = chat("Name three colours.", max_tokens=24, temperature=0.0)
    (alone,) = finished(stub, free)
    beside: list[pb.SampleFinished] = []
    constrained = chat(QUESTION, json_schema=json.dumps(CITY), temperature=0.0, max_tokens=48)
    worker = threading.Thread(target=lambda: beside.extend(finished(stub, constrained)))
    worker.start()
    (together,) = finished(stub, free)
    worker.join(timeout=600)
    assert together.text == alone.text  # batch invariance holds with a grammar in the batch
    jsonschema.validate(json.loads(beside[0].text), CITY)


def requests_total(stub) -> int:
    return stub.GetInfo(pb.GetInfoRequest()).requests_total


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"grammar": "root ::= undefined-rule"}, "grammar", "Undefined rule identifier"),
        ({"grammar": 'root ::= "open'}, "grammar", "unexpected end of input"),
        ({"json_schema": "{not json"}, "json_schema", "not valid JSON"),
        ({"json_schema": '{"type": "nope"}'}, "json_schema", "cannot be turned into a grammar"),
        ({"grammar": 'root ::= "a"', "json_schema": "{}"}, "grammar", "at most one"),
        ({"constrain_after": "Answer:"}, "constrain_after", "needs a grammar"),
    ],
)
def test_a_bad_constraint_is_invalid_argument_before_it_takes_a_slot(stub, fields, field, reason):
    before = requests_total(stub)
    with pytest.raises(grpc.RpcError) as info:
        finished(stub, chat("hi", max_tokens=8, **fields))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in info.value.details() and reason in info.value.details()
    assert requests_total(stub) == before  # refused at the door: never queued


def test_a_grammar_no_token_can_satisfy_fails_the_request_and_frees_its_slot(stub):
    # llama.cpp never lets a token whose text starts with NUL match: nothing can go on.
    with pytest.raises(grpc.RpcError) as info:
        finished(stub, chat("hi", grammar="root ::= [\\x00]", max_tokens=8))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot continue" in info.value.details()
    deadline = time.monotonic() + 10  # the decode thread frees the slots at its next step
    while stub.GetInfo(pb.GetInfoRequest()).slots_busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stub.GetInfo(pb.GetInfoRequest()).slots_busy == 0
    (after,) = finished(stub, chat("Say hi.", max_tokens=4))  # the agent still serves
    assert after.usage.completion_tokens >= 1


def test_agent_call_sends_a_json_schema(agent, tmp_path):
    schema = tmp_path / "answer.json"
    schema.write_text(json.dumps({"enum": ["yes", "no"]}))
    done = run_cli(
        "agent", "call", "--addr", agent.address, "Is the sky blue?",
        "--json-schema", f"@{schema}", "--max-tokens", "8", "--temperature", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) in ("yes", "no")
    bad = run_cli("agent", "call", "--addr", agent.address, "hi", "--grammar", "root ::= x")
    assert bad.returncode == 1 and "INVALID_ARGUMENT" in bad.stderr and "grammar" in bad.stderr
