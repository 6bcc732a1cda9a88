"""Protobuf <-> domain for the leader service, at both of its ends: the servicer's and
its clients' (`conclave.leader.client`). Nothing past them sees a *_pb2 object.

Each message the leader sends is encoded here once and decoded here once, so a decoded
round encodes back to the very message it came from (the gateway serves rounds as that
message's JSON mapping).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, fields
from typing import Any

from google.protobuf import json_format

from conclave.errors import InvalidRequest
from conclave.leader.events import (
    CandidateDone,
    CandidateText,
    RoundDecided,
    RoundEvent,
    RoundStarted,
)
from conclave.leader.settings import LeaderSettings
from conclave.leader.store import RoundSummary
from conclave.leader.types import (
    AgentListing,
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
from conclave.v1 import agent_pb2, leader_pb2

# Where a domain type and its message share field names, a value crosses by name.
_CANDIDATE = tuple(f.name for f in fields(Candidate))  # the message has every one
_PARTICIPANT = tuple(f.name for f in leader_pb2.Participant.DESCRIPTOR.fields)  # a subset
_ROUND_KNOBS = (  # RoundRequest's numbers, as RunRoundRequest and Round name them
    "samples_per_participant",
    "max_tokens",
    "temperature",
    "top_p",
    "quorum",
    "participant_timeout_s",
)
_SUMMARY = ("id", "created_at", "strategy", "method", "status", "answer", "agreement", "wall_ms")
_DECISION = ("method", "answer", "agreement", "detail")
_STARTED = tuple(f.name for f in fields(RoundStarted))  # as RoundStarted's message
_TEXT = tuple(f.name for f in fields(CandidateText))  # as CandidateDelta's
_FORMAT = tuple(f.name for f in fields(ResponseFormat))  # as ResponseFormat's message
_TOOL = tuple(f.name for f in fields(ToolDefinition))  # as ToolDefinition's message


def _take(source: object, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(source, name) for name in names}


# ---- both ends: the answer's form -----------------------------------------------------


def response_format(f: ResponseFormat) -> leader_pb2.ResponseFormat:
    return leader_pb2.ResponseFormat(**_take(f, _FORMAT))


def tool(t: ToolDefinition) -> leader_pb2.ToolDefinition:
    return leader_pb2.ToolDefinition(**_take(t, _TOOL))


def response_format_from_proto(f: leader_pb2.ResponseFormat) -> ResponseFormat:
    return ResponseFormat(**_take(f, _FORMAT)) if f.type else ResponseFormat()


def tools_from_proto(tools: Iterable[leader_pb2.ToolDefinition]) -> tuple[ToolDefinition, ...]:
    return tuple(ToolDefinition(**_take(t, _TOOL)) for t in tools)


# ---- the servicer's end: requests in, rounds out -----------------------------------------


def round_request(request: leader_pb2.RunRoundRequest, settings: LeaderSettings) -> RoundRequest:
    def opt(name: str, default):
        return getattr(request, name) if request.HasField(name) else default

    return RoundRequest(
        messages=tuple((m.role, m.content) for m in request.messages),
        strategy=request.strategy or "vote",
        method=request.method or settings.default_method,
        participants=tuple(request.participants),
        samples_per_participant=opt("samples_per_participant", settings.default_samples),
        max_tokens=opt("max_tokens", settings.default_max_tokens),
        temperature=opt("temperature", settings.default_temperature),
        top_p=opt("top_p", 0.95),
        seed=opt("seed", None),
        quorum=opt("quorum", settings.default_quorum),
        participant_timeout_s=opt("participant_timeout_s", settings.participant_timeout_s),
        params=dict(request.params),
        tags=dict(request.tags),
        stop=tuple(request.stop),
        response_format=response_format_from_proto(request.response_format),
        tools=tools_from_proto(request.tools),
        tool_choice=request.tool_choice,
    )


def candidate(c: Candidate) -> leader_pb2.Candidate:
    return leader_pb2.Candidate(**asdict(c))


def decision(d: Decision) -> leader_pb2.Decision:
    message = leader_pb2.Decision(
        **_take(d, _DECISION),
        groups=[leader_pb2.VoteGroup(**asdict(g)) for g in d.groups],
        dissent=d.dissent,
    )
    if d.winner is not None:
        message.winner = d.winner
    return message


def participant(p: Participant) -> leader_pb2.Participant:
    return leader_pb2.Participant(**_take(p, _PARTICIPANT))


def round_message(record: RoundRecord) -> leader_pb2.Round:
    r = record.request
    winner = record.decision.winner
    message = leader_pb2.Round(
        id=record.id,
        created_at=record.created_at,
        strategy=r.strategy,
        method=r.method,
        status=record.status,
        error=record.error,
        wall_ms=record.wall_ms,
        messages=[agent_pb2.ChatMessage(role=role, content=text) for role, text in r.messages],
        participants=[participant(p) for p in record.participants],
        candidates=[candidate(c) for c in record.candidates],
        decision=decision(record.decision),
        text=record.candidates[winner].text if winner is not None else "",
        **_take(r, _ROUND_KNOBS),
        params=r.params,
        tags=r.tags,
        timings=record.timings,
        stop=r.stop,
        response_format=response_format(r.response_format),
        tools=[tool(t) for t in r.tools],
        tool_choice=r.tool_choice,
    )
    if r.seed is not None:
        message.seed = r.seed
    return message


def round_event(event: RoundEvent) -> leader_pb2.RoundEvent:
    if isinstance(event, CandidateText):
        return leader_pb2.RoundEvent(delta=leader_pb2.CandidateDelta(**_take(event, _TEXT)))
    if isinstance(event, CandidateDone):
        return leader_pb2.RoundEvent(
            candidate=leader_pb2.CandidateFinished(candidate=candidate(event.candidate))
        )
    if isinstance(event, RoundDecided):
        return leader_pb2.RoundEvent(decided=round_message(event.record))
    return leader_pb2.RoundEvent(started=leader_pb2.RoundStarted(**_take(event, _STARTED)))


def summary(s: RoundSummary) -> leader_pb2.RoundSummary:
    return leader_pb2.RoundSummary(**_take(s, _SUMMARY), candidates=s.n_candidates, tags=s.tags)


def tag_filter(raw: str) -> tuple[str, str] | None:
    if not raw:
        return None
    key, sep, value = raw.partition("=")
    if not sep or not key:
        raise InvalidRequest(f"tag filter must look like key=value, got {raw!r}", field="tag")
    return key, value


# ---- the clients' end: specs out, rounds in ----------------------------------------------


def run_round_request(spec: RoundSpec) -> leader_pb2.RunRoundRequest:
    request = leader_pb2.RunRoundRequest(
        messages=[agent_pb2.ChatMessage(role=r, content=c) for r, c in spec.messages],
        strategy=spec.strategy,
        method=spec.method or "",
        participants=list(spec.participants),
        params=dict(spec.params),
        tags=dict(spec.tags),
        stop=list(spec.stop),
        response_format=response_format(spec.response_format),
        tools=[tool(t) for t in spec.tools],
        tool_choice=spec.tool_choice,
    )
    for name, value in _take(spec, (*_ROUND_KNOBS, "seed")).items():
        if value is not None:  # unset: the leader's default
            setattr(request, name, value)
    return request


def candidate_from_proto(c: leader_pb2.Candidate) -> Candidate:
    return Candidate(**_take(c, _CANDIDATE))


def decision_from_proto(d: leader_pb2.Decision) -> Decision:
    return Decision(
        **_take(d, _DECISION),
        winner=d.winner if d.HasField("winner") else None,
        groups=tuple(
            VoteGroup(answer=g.answer, members=tuple(g.members), weight=g.weight) for g in d.groups
        ),
        dissent=tuple(d.dissent),
    )


def participant_from_proto(p: leader_pb2.Participant) -> Participant:
    return Participant(**_take(p, _PARTICIPANT))


def record_from_proto(r: leader_pb2.Round) -> RoundRecord:
    participants = tuple(participant_from_proto(p) for p in r.participants)
    return RoundRecord(
        id=r.id,
        created_at=r.created_at,
        request=RoundRequest(
            messages=tuple((m.role, m.content) for m in r.messages),
            strategy=r.strategy,
            method=r.method,
            participants=tuple(p.name for p in participants),
            **_take(r, _ROUND_KNOBS),
            seed=r.seed if r.HasField("seed") else None,
            stop=tuple(r.stop),
            params=dict(r.params),
            tags=dict(r.tags),
            response_format=response_format_from_proto(r.response_format),
            tools=tools_from_proto(r.tools),
            tool_choice=r.tool_choice,
        ),
        participants=participants,
        candidates=tuple(candidate_from_proto(c) for c in r.candidates),
        decision=decision_from_proto(r.decision),
        status=r.status,
        error=r.error,
        wall_ms=r.wall_ms,
        timings=dict(r.timings),
    )


def event_from_proto(event: leader_pb2.RoundEvent) -> RoundEvent:
    kind = event.WhichOneof("event")
    if kind == "delta":
        return CandidateText(**_take(event.delta, _TEXT))
    if kind == "candidate":
        return CandidateDone(candidate_from_proto(event.candidate.candidate))
    if kind == "decided":
        return RoundDecided(record_from_proto(event.decided))
    started = _take(event.started, _STARTED)
    return RoundStarted(**{**started, "participants": tuple(started["participants"])})


def summary_from_proto(s: leader_pb2.RoundSummary) -> RoundSummary:
    return RoundSummary(**_take(s, _SUMMARY), n_candidates=s.candidates, tags=dict(s.tags))


def agent_from_proto(a: leader_pb2.AgentEntry) -> AgentListing:
    answered = a.HasField("info")
    return AgentListing(
        name=a.name,
        address=a.address,
        source=a.source,
        participants=tuple(a.participants),
        model=a.info.model.id if answered else "",
        error=a.error,
        info=as_json(a.info) if answered else None,
        participant_models=dict(a.participant_models),
    )


# ---- JSON: the messages' own JSON mapping, for people and HTTP clients --------------------


def as_json(message: Any) -> dict[str, Any]:
    """Field names as in the .proto, every field present (unset ones at their default)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def round_json(record: RoundRecord) -> dict[str, Any]:
    return as_json(round_message(record))


def round_json_text(record: RoundRecord) -> str:
    """The round as protobuf's canonical JSON text (camelCase names, defaults left out)."""
    return json_format.MessageToJson(round_message(record))


def summary_json(s: RoundSummary) -> dict[str, Any]:
    return as_json(summary(s))


def agent_json(a: AgentListing) -> dict[str, Any]:
    entry = leader_pb2.AgentEntry(
        name=a.name,
        address=a.address,
        source=a.source,
        participants=a.participants,
        error=a.error,
        participant_models=a.participant_models,
    )
    if a.info is not None:
        json_format.ParseDict(a.info, entry.info)
    return {**as_json(entry), "reachable": not a.error}  # a dead agent stays listed, marked
