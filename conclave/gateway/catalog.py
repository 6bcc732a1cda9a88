"""Which `model` names the gateway answers to, and what each one means.

A strategy model (`conclave-vote`, ...) runs a round over the swarm; `agent/<name>` asks
one participant directly (still as a recorded round, so every answer names its round).
Anything else is a 404: a client must never get a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conclave.errors import NotFound
from conclave.leader.strategies import moa, parallel, round_robin

AGENT_PREFIX = "agent/"


@dataclass(frozen=True, slots=True)
class StrategyModel:
    id: str
    strategy: str
    description: str
    defaults: dict[str, str] = field(default_factory=dict)


STRATEGY_MODELS: tuple[StrategyModel, ...] = (
    StrategyModel(
        "conclave-vote",
        "vote",
        "every participant answers at once; the voting method decides",
        {"method": "majority", "samples_per_participant": "1"},
    ),
    StrategyModel(
        "conclave-parallel",
        "parallel",
        "answers, then critique turns where everyone revises at once, then a vote",
        {"method": "majority", **parallel.DEFAULTS},
    ),
    StrategyModel(
        "conclave-round-robin",
        "round_robin",
        "a critique chain, one participant after another, then a vote",
        {"method": "majority", **round_robin.DEFAULTS},
    ),
    StrategyModel(
        "conclave-moa",
        "moa",
        "proposers in parallel, one aggregator synthesizes",
        dict(moa.DEFAULTS),
    ),
)


@dataclass(frozen=True, slots=True)
class Target:
    """What a request's `model` resolved to."""

    model: str
    strategy: str
    participant: str | None = None  # set for agent/<name>


def resolve(model: str) -> Target:
    if model.startswith(AGENT_PREFIX) and len(model) > len(AGENT_PREFIX):
        return Target(model=model, strategy="vote", participant=model[len(AGENT_PREFIX) :])
    for card in STRATEGY_MODELS:
        if card.id == model:
            return Target(model=model, strategy=card.strategy)
    raise NotFound(f"The model '{model}' does not exist; GET /v1/models lists the models")
