"""RoundRecord <-> table rows. Pure: no connection, so the mapping is testable alone.

Columns that queries filter on (strategy, method, tags, created_at) live in their own
columns; the rest of the request is one JSON object. JSON keeps floats exact (repr
round-trips) and the REAL/INTEGER columns keep Python floats/ints exact, so a record
read back equals the one written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from conclave.leader.types import (
    Candidate,
    Decision,
    Participant,
    ResponseFormat,
    RoundRecord,
    RoundRequest,
    ToolDefinition,
    VoteGroup,
)

Row = Mapping[str, Any]

# Their tables' columns are named after their fields.
_PARTICIPANT = tuple(f.name for f in fields(Participant))
_CANDIDATE = tuple(f.name for f in fields(Candidate))


@dataclass(frozen=True, slots=True)
class RoundRows:
    """One round as the rows of every table, ready for executemany."""

    round: dict[str, Any]
    participants: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    tags: list[dict[str, Any]]


def dumps(value: Any) -> str:
    # allow_nan=False: a NaN would not equal itself on the way back, better fail loudly.
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def to_rows(record: RoundRecord, answers: Sequence[str] | None = None) -> RoundRows:
    rid = record.id
    request, decision = record.request, record.decision
    return RoundRows(
        round={
            "id": rid,
            "created_at": record.created_at,
            "strategy": request.strategy,
            "method": request.method,
            "status": record.status,
            "error": record.error,
            "wall_ms": record.wall_ms,
            "request_json": dumps(_request_rest(request)),
            "params_json": dumps(request.params),
            "tags_json": dumps(request.tags),
            "decision_method": decision.method,
            "winner_index": decision.winner,
            "answer": decision.answer,
            "agreement": decision.agreement,
            "dissent_json": dumps(list(decision.dissent)),
            "detail": decision.detail,
            "timings_json": dumps(record.timings),
            "response_format_json": dumps(asdict(request.response_format)),
            "tools_json": dumps([asdict(t) for t in request.tools]),
            "tool_choice": request.tool_choice,
        },
        participants=[
            {"round_id": rid, "position": k, **asdict(p)} for k, p in enumerate(record.participants)
        ],
        candidates=[
            candidate_row(rid, k, c, answers[k] if answers is not None else "")
            for k, c in enumerate(record.candidates)
        ],
        groups=[
            {
                "round_id": rid,
                "position": k,
                "answer": g.answer,
                "weight": g.weight,
                "members_json": dumps(list(g.members)),
            }
            for k, g in enumerate(decision.groups)
        ],
        tags=[{"round_id": rid, "key": k, "value": v} for k, v in request.tags.items()],
    )


def candidate_row(round_id: str, position: int, candidate: Candidate, answer: str) -> dict:
    """One row of the candidates table."""
    return {"round_id": round_id, "position": position, **asdict(candidate), "answer": answer}


def _request_rest(request: RoundRequest) -> dict[str, Any]:
    """The request fields that have no column of their own."""
    return {
        "messages": [list(m) for m in request.messages],
        "participants": list(request.participants),
        "samples_per_participant": request.samples_per_participant,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "quorum": request.quorum,
        "participant_timeout_s": request.participant_timeout_s,
        "stop": list(request.stop),
    }


def from_rows(
    round_row: Row,
    participants: Sequence[Row],
    candidates: Sequence[Row],
    groups: Sequence[Row],
) -> RoundRecord:
    rest = json.loads(round_row["request_json"])
    request = RoundRequest(
        messages=tuple((role, content) for role, content in rest.pop("messages")),
        participants=tuple(rest.pop("participants")),
        stop=tuple(rest.pop("stop", ())),  # absent in rounds stored before stop existed
        strategy=round_row["strategy"],
        method=round_row["method"],
        params=json.loads(round_row["params_json"]),
        tags=json.loads(round_row["tags_json"]),
        response_format=ResponseFormat(**json.loads(round_row["response_format_json"])),
        tools=tuple(ToolDefinition(**t) for t in json.loads(round_row["tools_json"])),
        tool_choice=round_row["tool_choice"],
        **rest,
    )
    decision = Decision(
        method=round_row["decision_method"],
        winner=round_row["winner_index"],
        answer=round_row["answer"],
        groups=tuple(
            VoteGroup(
                answer=g["answer"],
                members=tuple(json.loads(g["members_json"])),
                weight=g["weight"],
            )
            for g in groups
        ),
        agreement=round_row["agreement"],
        dissent=tuple(json.loads(round_row["dissent_json"])),
        detail=round_row["detail"],
    )
    return RoundRecord(
        id=round_row["id"],
        created_at=round_row["created_at"],
        request=request,
        participants=tuple(Participant(**{f: p[f] for f in _PARTICIPANT}) for p in participants),
        candidates=tuple(Candidate(**{f: c[f] for f in _CANDIDATE}) for c in candidates),
        decision=decision,
        status=round_row["status"],
        error=round_row["error"],
        wall_ms=round_row["wall_ms"],
        timings=json.loads(round_row["timings_json"]),
    )
