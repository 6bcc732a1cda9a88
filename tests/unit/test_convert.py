"""Protobuf <-> domain conversions of the agent and leader services."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

import pytest

from conclave.errors import InvalidRequest
from conclave.leader import convert as leader_convert
from conclave.leader.events import CandidateDone, CandidateText, RoundDecided, RoundStarted
from conclave.leader.settings import LeaderSettings
from conclave.leader.types import (
    Candidate,
    Decision,
    Participant,
    ResponseFormat,
    RoundRecord,
    RoundRequest,
    RoundSpec,
    ToolDefinition,
    VoteGroup,
)
from conclave.services import convert
from conclave.services.engine.types import (
    ChatMessage,
    Delta,
    Finished,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    Started,
    Timings,
    Usage,
)
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import leader_pb2


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("CONCLAVE_"):
            monkeypatch.delenv(name)


def round_trip(request: GenerationRequest, default_max_tokens: int = 256) -> GenerationRequest:
    message = pb.GenerateRequest.FromString(convert.request_to_proto(request).SerializeToString())
    return convert.generation_request(message, default_max_tokens=default_max_tokens)


# Floats the proto carries as 32-bit `float` are chosen exactly representable in it.
EXACT = SamplingParams(temperature=0.5, top_p=0.875, min_p=0.125)

FULL = GenerationRequest(
    request_id="round-7.0.skeptic",
    messages=(
        ChatMessage("system", "Answer with a number."),
        ChatMessage("user", "What is 2 + 2? ünïcödé ✓"),
        ChatMessage("assistant", "4"),
        ChatMessage("user", "And 3 + 3?"),
    ),
    model="gemma-3-270m-q4_k_m",
    n=3,
    sampling=SamplingParams(
        max_tokens=77,
        temperature=0.5,
        top_p=0.875,
        top_k=12,
        min_p=0.125,
        repeat_penalty=1.25,
        seed=2**32 - 2,
        stop=("\n\n", "<end_of_turn>"),
        ignore_eos=True,
    ),
)


# -- agent requests ----------------------------------------------------------------------


def test_a_full_chat_request_survives_the_round_trip() -> None:
    assert round_trip(FULL) == FULL


def test_a_raw_prompt_request_survives_the_round_trip() -> None:
    request = GenerationRequest(
        request_id="r", prompt="Once upon a time", sampling=replace(EXACT, temperature=0.0)
    )
    assert round_trip(request) == request


def test_an_unseeded_request_stays_unseeded() -> None:
    request = GenerationRequest(request_id="r", prompt="x", sampling=SamplingParams(seed=None))
    message = convert.request_to_proto(request)
    assert not message.HasField("seed")
    assert round_trip(request).sampling.seed is None


def test_seed_zero_is_sent_and_kept() -> None:
    request = GenerationRequest(request_id="r", prompt="x", sampling=SamplingParams(seed=0))
    assert convert.request_to_proto(request).HasField("seed")
    assert round_trip(request).sampling.seed == 0


def test_explicit_zeros_are_not_mistaken_for_unset() -> None:
    request = GenerationRequest(
        request_id="r",
        prompt="x",
        sampling=replace(EXACT, temperature=0.0, top_k=0, min_p=0.0),
    )
    assert round_trip(request).sampling == request.sampling


def test_an_empty_proto_request_takes_the_service_defaults() -> None:
    request = convert.generation_request(pb.GenerateRequest(), default_max_tokens=99)
    assert request.sampling == SamplingParams(max_tokens=99)
    assert request.n == 1
    assert request.prompt is None
    assert request.messages == ()
    assert request.model == ""
    uuid.UUID(hex=request.request_id)  # a fresh id is generated


def test_default_sampling_survives_the_round_trip_exactly() -> None:
    request = GenerationRequest(request_id="r", prompt="x")
    assert round_trip(request) == request


# -- agent events ------------------------------------------------------------------------


def event_round_trip(event):
    message = convert.generate_event(event)
    return convert.event_from_proto(pb.GenerateEvent.FromString(message.SerializeToString()))


def test_started_survives_the_round_trip() -> None:
    event = Started(request_id="r1", model="gemma", prompt_tokens=17, n=4)
    assert event_round_trip(event) == event


def test_delta_survives_the_round_trip() -> None:
    event = Delta(index=2, text=" wörld", token_ids=(101, 2, 99999))
    assert event_round_trip(event) == event
    empty = Delta(index=0, text="", token_ids=())
    assert event_round_trip(empty) == empty


@pytest.mark.parametrize("reason", list(FinishReason))
def test_finished_survives_the_round_trip_for_every_reason(reason: FinishReason) -> None:
    event = Finished(
        index=1,
        reason=reason,
        text="The answer is 4.",
        usage=Usage(prompt_tokens=20, completion_tokens=6),
        timings=Timings(
            queue_ms=0.1,
            prefill_ms=12.34,
            decode_ms=56.7,
            time_to_first_token_ms=13.0,
            total_ms=70.123456789,
        ),
    )
    assert event_round_trip(event) == event


def test_finished_carries_total_tokens_and_throughput_on_the_wire() -> None:
    event = Finished(
        index=0,
        reason=FinishReason.LENGTH,
        text="abc",
        usage=Usage(prompt_tokens=5, completion_tokens=11),
        timings=Timings(
            queue_ms=0, prefill_ms=0, decode_ms=500.0, time_to_first_token_ms=0, total_ms=600
        ),
    )
    finished = convert.generate_event(event).finished
    assert finished.usage.total_tokens == 16
    assert finished.timings.tokens_per_second == pytest.approx(20.0)  # 10 tokens in 0.5 s
    assert finished.finish_reason == pb.FINISH_REASON_LENGTH


def test_an_unspecified_finish_reason_reads_as_stop() -> None:
    message = pb.GenerateEvent(finished=pb.SampleFinished(index=0, text="x"))
    assert convert.event_from_proto(message).reason is FinishReason.STOP


# -- leader requests ---------------------------------------------------------------------


SETTINGS = LeaderSettings(
    default_method="weighted",
    default_samples=3,
    default_max_tokens=99,
    default_temperature=0.5,
    default_quorum=2,
    participant_timeout_s=7.5,
)


def test_round_request_takes_the_leader_defaults_for_unset_fields() -> None:
    message = leader_pb2.RunRoundRequest(messages=[pb.ChatMessage(role="user", content="2+2?")])
    r = leader_convert.round_request(message, SETTINGS)
    assert r.messages == (("user", "2+2?"),)
    assert r.strategy == "vote"
    assert r.method == "weighted"
    assert r.participants == ()
    assert r.samples_per_participant == 3
    assert r.max_tokens == 99
    assert r.temperature == 0.5
    assert r.top_p == 0.95
    assert r.seed is None
    assert r.quorum == 2
    assert r.participant_timeout_s == 7.5
    assert r.params == {}
    assert r.tags == {}


def test_round_request_keeps_every_field_that_is_set() -> None:
    message = leader_pb2.RunRoundRequest(
        messages=[
            pb.ChatMessage(role="system", content="Be brief."),
            pb.ChatMessage(role="user", content="2+2?"),
        ],
        strategy="debate",
        method="similarity",
        participants=["a", "b"],
        samples_per_participant=2,
        max_tokens=10,
        temperature=0.25,
        top_p=0.5,
        seed=0,
        quorum=1,
        participant_timeout_s=0.5,
        params={"extract": "number"},
        tags={"experiment": "e1"},
    )
    r = leader_convert.round_request(message, SETTINGS)
    assert r.messages == (("system", "Be brief."), ("user", "2+2?"))
    assert (r.strategy, r.method, r.participants) == ("debate", "similarity", ("a", "b"))
    assert (r.samples_per_participant, r.max_tokens, r.quorum) == (2, 10, 1)
    assert (r.temperature, r.top_p, r.seed) == (0.25, 0.5, 0)
    assert r.participant_timeout_s == 0.5
    assert r.params == {"extract": "number"}
    assert r.tags == {"experiment": "e1"}


def test_round_request_explicit_zero_temperature_is_kept() -> None:
    message = leader_pb2.RunRoundRequest(temperature=0.0)
    assert leader_convert.round_request(message, SETTINGS).temperature == 0.0


# -- tag filters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("experiment=e1", ("experiment", "e1")),
        ("cell=", ("cell", "")),
        ("expr=a=b", ("expr", "a=b")),
    ],
)
def test_tag_filter_parses_key_value(raw: str, expected: tuple[str, str] | None) -> None:
    assert leader_convert.tag_filter(raw) == expected


@pytest.mark.parametrize("raw", ["experiment", "=e1", "="])
def test_tag_filter_without_a_key_or_equals_sign_is_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest, match="key=value") as info:
        leader_convert.tag_filter(raw)
    assert info.value.field == "tag"
    assert repr(raw) in str(info.value)


# -- the leader client's end: what a servicer sends decodes to what it encoded -----------

RECORD = RoundRecord(
    id="0190abcd",
    created_at=1_700_000_000.25,
    request=RoundRequest(
        messages=(("system", "Be brief."), ("user", "2+2?")),
        strategy="parallel",
        method="weighted",
        participants=("a", "b"),
        samples_per_participant=2,
        max_tokens=10,
        temperature=0.25,
        top_p=0.5,
        seed=7,
        quorum=1,
        participant_timeout_s=0.5,
        stop=("\n\n",),
        params={"critique_rounds": "1"},
        tags={"experiment": "e1"},
    ),
    participants=(
        Participant(name="a", address="h:1", agent="blade", system_prompt="Doubt.", weight=2.0),
        Participant(name="b", address="h:2", model="gemma-b"),
    ),
    candidates=(
        Candidate("a", "blade", 0, "Answer: 4", "stop", prompt_tokens=9, completion_tokens=3),
        Candidate("b", "h:2", 0, "", "timeout", error="no answer within 0.5 s", turn=1),
    ),
    decision=Decision(
        method="weighted",
        winner=0,
        answer="4",
        groups=(VoteGroup(answer="4", members=(0,), weight=2.0),),
        agreement=1.0,
        dissent=("5",),
        detail="the only group",
    ),
    status="decided",
    wall_ms=12.5,
    timings={"turn_0_ms": 10.0},
)


def wire(message):
    return type(message).FromString(message.SerializeToString())


STRUCTURED = replace(
    RECORD,
    request=replace(
        RECORD.request,
        response_format=ResponseFormat("json_schema", '{"type": "integer"}', "n", strict=True),
        tools=(ToolDefinition("f", "does f", '{"type": "object"}'), ToolDefinition("g")),
        tool_choice="required",
    ),
)


@pytest.mark.parametrize(
    "record",
    [
        RECORD,
        replace(RECORD, decision=replace(RECORD.decision, winner=None), status="failed"),
        STRUCTURED,
    ],
)
def test_a_round_decodes_to_what_the_servicer_encoded(record: RoundRecord) -> None:
    message = wire(leader_convert.round_message(record))
    decoded = leader_convert.record_from_proto(message)
    assert leader_convert.round_message(decoded) == message
    assert decoded.candidates == record.candidates and decoded.decision == record.decision
    assert decoded.request == replace(record.request, participants=("a", "b"))


def test_round_events_decode_to_the_events_the_runner_emitted() -> None:
    events = [
        RoundStarted("r1", "vote", "majority", ("a", "b")),
        CandidateText("a", 0, 1, "An"),
        CandidateDone(RECORD.candidates[0]),
        RoundDecided(RECORD),
    ]
    decoded = [leader_convert.event_from_proto(wire(leader_convert.round_event(e))) for e in events]
    assert decoded[:3] == events[:3]
    assert leader_convert.round_message(decoded[3].record) == leader_convert.round_message(RECORD)


def test_a_round_spec_carries_the_answer_form_to_the_round_request() -> None:
    spec = RoundSpec(
        messages=(("user", "x"),),
        response_format=STRUCTURED.request.response_format,
        tools=STRUCTURED.request.tools,
        tool_choice="function:f",
    )
    request = leader_convert.round_request(
        wire(leader_convert.run_round_request(spec)), LeaderSettings()
    )
    assert request.response_format == spec.response_format
    assert request.tools == spec.tools and request.tool_choice == "function:f"


def test_a_round_spec_leaves_unset_fields_to_the_leader() -> None:
    request = wire(leader_convert.run_round_request(RoundSpec(messages=(("user", "2+2?"),))))
    r = leader_convert.round_request(request, SETTINGS)
    assert (r.strategy, r.method, r.samples_per_participant, r.max_tokens) == (
        "vote",
        "weighted",
        3,
        99,
    )
    spec = RoundSpec(messages=(("user", "x"),), seed=0, temperature=0.0, tags={"k": "v"})
    r = leader_convert.round_request(wire(leader_convert.run_round_request(spec)), SETTINGS)
    assert (r.seed, r.temperature, r.tags) == (0, 0.0, {"k": "v"})


def test_an_agent_listing_serves_the_json_the_leader_sent() -> None:
    entry = leader_pb2.AgentEntry(name="blade", address="h:1", source="static", participants=["a"])
    entry.info.model.id = "gemma"
    entry.info.requests_total = 3
    listing = leader_convert.agent_from_proto(wire(entry))
    assert (listing.model, listing.participants, listing.error) == ("gemma", ("a",), "")
    assert leader_convert.agent_json(listing) == {
        **leader_convert.as_json(entry),
        "reachable": True,
    }
    silent = leader_pb2.AgentEntry(name="b", address="h:2", source="zeroconf", error="down")
    listing = leader_convert.agent_from_proto(silent)
    assert listing.info is None and listing.model == ""
    assert leader_convert.agent_json(listing) == {
        **leader_convert.as_json(silent),
        "reachable": False,
    }
