"""One row of results: an item asked once in one cell, scored. The journal, items.csv and
items.json hold exactly these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from conclave.experiments.plan import Unit
from conclave.experiments.scorers import score
from conclave.leader.types import RoundRecord

# Candidates lost to the machinery (agent error, overloaded, cancelled), not the model.
BROKEN = frozenset({"error", "overloaded", "cancelled"})


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """What the runner needs of a stored round (read from the leader's Round)."""

    id: str
    status: str  # "decided" | "no_quorum" | "failed"
    error: str
    text: str  # the winning candidate's full text
    agreement: float
    participants: int
    candidates: int
    completion_tokens: int  # every candidate of every turn
    prompt_tokens: int
    wall_ms: float
    created_at: float
    tags: dict[str, str]
    broken: int = 0  # candidates lost to the machinery (BROKEN), not the model


def outcome_of(record: RoundRecord) -> RoundOutcome:
    winner = record.decision.winner
    return RoundOutcome(
        id=record.id,
        status=record.status,
        error=record.error,
        text=record.candidates[winner].text if winner is not None else "",
        agreement=record.decision.agreement,
        participants=len(record.participants),
        candidates=len(record.candidates),
        completion_tokens=sum(c.completion_tokens for c in record.candidates),
        prompt_tokens=sum(c.prompt_tokens for c in record.candidates),
        wall_ms=record.wall_ms,
        created_at=record.created_at,
        tags=dict(record.request.tags),
        broken=sum(c.finish_reason in BROKEN for c in record.candidates),
    )


@dataclass(frozen=True, slots=True)
class ItemResult:
    cell: str
    strategy: str
    method: str
    item: str
    repeat: int
    seed: int
    round_id: str
    status: str
    error: str
    answer: str  # what the scorer read
    expected: str
    correct: bool
    agreement: float
    participants: int
    candidates: int
    completion_tokens: int
    prompt_tokens: int
    wall_ms: float
    created_at: float
    text: str

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.cell, self.item, self.repeat)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ItemResult))


def result_of(unit: Unit, outcome: RoundOutcome) -> ItemResult:
    item = unit.item
    # Only a decided round has a team answer; the others count as wrong (see docs).
    if outcome.status == "decided":
        scored = score(item.scorer, outcome.text, item.expected, item.choices)
        answer, correct = scored.answer, scored.correct
    else:
        answer, correct = "", False
    return ItemResult(
        cell=unit.cell.id,
        strategy=unit.cell.strategy,
        method=unit.cell.method,
        item=item.id,
        repeat=unit.repeat,
        seed=unit.seed,
        round_id=outcome.id,
        status=outcome.status,
        error=outcome.error,
        answer=answer,
        expected=item.expected,
        correct=correct,
        agreement=outcome.agreement,
        participants=outcome.participants,
        candidates=outcome.candidates,
        completion_tokens=outcome.completion_tokens,
        prompt_tokens=outcome.prompt_tokens,
        wall_ms=outcome.wall_ms,
        created_at=outcome.created_at,
        text=outcome.text,
    )
