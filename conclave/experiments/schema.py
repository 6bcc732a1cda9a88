"""The shape of an experiment config file: pydantic models, strict about every key.

`extra="forbid"` everywhere, so a typo is an error, not a default. What the models cannot
see (names the leader knows, knob values, the plan) is checked in `config`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from conclave.experiments.datasets import DatasetSpec
from conclave.leader.settings import ParticipantConfig

# Strict: YAML's `critique_rounds: "2"` stays a string and is reported, not coerced.
Param = StrictBool | StrictInt | StrictFloat | StrictStr
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddedSpec(_Strict):
    """Agent services started inside the runner on the bundled model (or `model`)."""

    agents: int = Field(1, ge=1, le=8, description="Agent services (model copies).")
    slots: int | None = Field(None, ge=1, le=64, description="Sequences decoded together.")
    model: str | None = Field(None, description="GGUF path; default: the bundled model.")
    context_size: int | None = Field(None, ge=128, description="Context tokens per slot.")
    threads: int | None = Field(None, ge=1, description="llama.cpp threads per agent.")


class ParticipantsSpec(_Strict):
    """Who answers, when the runner starts its own leader (no `leader` address)."""

    agents: list[StrictStr] = Field(default_factory=list, description="Agent services host:port.")
    named: list[ParticipantConfig] = Field(
        default_factory=list, description="Named voices (a `persona` fills their prompt)."
    )
    participants_per_agent: int = Field(1, ge=1, le=16, description="Voices per listed agent.")
    discover: bool = Field(False, description="Find agents on the LAN with zeroconf.")
    embedded: EmbeddedSpec | None = Field(None, description="Start agents in this process.")
    db: Path | None = Field(None, description="Round store; default <output>/rounds.db.")
    wait_s: float = Field(30.0, ge=0, description="How long to wait for enough participants.")

    @property
    def any(self) -> bool:
        return bool(self.agents or self.named or self.discover or self.embedded)


class StrategySpec(_Strict):
    """One entry of `strategies:`: a strategy with its method and knobs."""

    id: str | None = Field(None, pattern=NAME_PATTERN, description="Cell name.")
    strategy: str = Field(description="vote, parallel, round_robin or moa.")
    method: str = Field("majority", description="Voting method.")
    samples: int = Field(1, ge=1, le=16, description="Samples per participant.")
    params: dict[str, Param] = Field(default_factory=dict, description="Strategy/method knobs.")
    participants: list[StrictStr] | None = Field(
        None, min_length=1, description="Participant names; default: the leader's."
    )
    voices: int | None = Field(
        None,
        ge=1,
        le=64,
        description="The first N of `participants` (or of the leader's), e.g. 1 for one "
        "model alone, without naming it; this entry is then not repeated per agent_counts.",
    )
    max_tokens: int | None = Field(None, ge=1, le=8192, description="Overrides the top level.")
    temperature: float | None = Field(None, ge=0, le=2, description="Overrides the top level.")
    sweep: dict[str, list[Param]] = Field(
        default_factory=dict,
        description="Cells over values: samples, method, max_tokens, temperature or params.X.",
    )

    @field_validator("sweep")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Param]]) -> dict[str, list[Param]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"{key}: give at least one value")
        return value


class ExperimentConfig(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=64, description="Experiment name.")
    description: str = ""
    leader: str | None = Field(None, description="Leader host:port; else one is started here.")
    participants: ParticipantsSpec = Field(default_factory=ParticipantsSpec)
    dataset: DatasetSpec
    strategies: list[StrategySpec] = Field(min_length=1)
    agent_counts: list[int] | None = Field(
        None, min_length=1, description="Cells per participant count (first N participants)."
    )
    repeats: int = Field(1, ge=1, le=100, description="Times each item is asked per cell.")
    seeds: list[int] | None = Field(None, min_length=1, description="One seed per repeat.")
    seed: int = Field(0, description="Seed of repeat 0 (repeat k: seed + k) without `seeds`.")
    concurrency: int = Field(2, ge=1, le=64, description="Rounds in flight at once.")
    max_tokens: int = Field(64, ge=1, le=8192)
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: list[str] = Field(default_factory=list)
    quorum: int | None = Field(None, ge=1)
    participant_timeout_s: float | None = Field(None, gt=0)
    round_timeout_s: float = Field(600.0, gt=0, description="Deadline of one RunRound call.")
    retries: int = Field(3, ge=0, le=10, description="Retries of a round the agents refused.")
    output: Path | None = Field(None, description="Output folder; default runs/<name>.")

    @field_validator("agent_counts")
    @classmethod
    def _positive(cls, value: list[int] | None) -> list[int] | None:
        if value and min(value) < 1:
            raise ValueError("agent counts must be at least 1")
        if value and len(set(value)) != len(value):
            raise ValueError("agent counts repeat")
        return value
