"""Settings of the leader (env prefix CONCLAVE_LEADER_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from conclave.addresses import check_address
from conclave.config import ConclaveSettings
from conclave.leader.personas import PERSONAS, persona_fields
from conclave.leader.store.paths import default_db_path
from conclave.swarm_security import SwarmServerFields


class ParticipantConfig(BaseModel):
    """One voice, as written in the leader's config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Unique participant name.")
    address: str = Field(description="host:port of the agent service it speaks through.")
    system_prompt: str = Field("", description="Persona: a system message for every turn.")
    weight: float = Field(1.0, ge=0, description="Vote weight for the `weighted` method.")
    temperature: float | None = Field(None, ge=0, le=2, description="Overrides the round's.")
    top_p: float | None = Field(None, gt=0, le=1, description="Overrides the round's.")
    max_tokens: int | None = Field(None, ge=1, description="Overrides the round's.")
    seed_offset: int = Field(0, ge=0, description="Added to the round's seed.")
    model: str = Field(
        "", description="Which of the agent's models answers (multi-model agents); '' = default."
    )
    persona: str = Field(
        "",
        description="A ready-made persona (docs/strategies.md): solver, skeptic or "
        "fact-checker. Fills system_prompt, temperature and top_p where this entry sets none.",
    )

    @model_validator(mode="before")
    @classmethod
    def _wear_persona(cls, data: object) -> object:
        if not isinstance(data, dict) or not data.get("persona"):
            return data
        if data["persona"] not in PERSONAS:
            raise ValueError(f"unknown persona {data['persona']!r}; known: {', '.join(PERSONAS)}")
        given = {k: v for k, v in data.items() if v is not None and v != ""}
        return {**persona_fields(data["persona"]), **given}

    @field_validator("address")
    @classmethod
    def _address_syntax(cls, value: str) -> str:
        return check_address(value)


class LeaderSettings(ConclaveSettings, SwarmServerFields):
    model_config = SettingsConfigDict(env_prefix="CONCLAVE_LEADER_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(50050, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    agents: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Agent services host:port; each gets `participants_per_agent` voices. "
        "Comma-separated in env and CLI.",
    )
    participants: list[ParticipantConfig] = Field(
        default_factory=list, description="Named participants with personas (config file)."
    )
    participants_per_agent: int = Field(
        1,
        ge=1,
        le=16,
        description="Voices per listed or discovered agent (they batch together there).",
    )
    voice_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Model ids the voices of each listed or discovered agent ask for, in "
        "turn (voice 1 the first, ...); empty: every voice asks for the agent's default. "
        "Comma-separated in env and CLI.",
    )
    discover: bool = Field(False, description="Browse zeroconf for _conclave._tcp agents.")
    discovery_interfaces: Annotated[list[str] | None, NoDecode] = Field(
        None, description="Interfaces (IP addresses) zeroconf may use; default: all."
    )
    kubernetes_service: str | None = Field(
        None,
        description="Headless Service DNS name whose records list the agents "
        "(e.g. conclave-agents.conclave.svc.cluster.local).",
    )
    kubernetes_port: int = Field(
        50051, ge=1, le=65535, description="Agent port behind the headless Service."
    )
    kubernetes_refresh_s: float = Field(10.0, gt=0, description="DNS re-resolution period.")
    db: Path = Field(default_factory=default_db_path, description="SQLite file of the rounds.")
    default_method: str = Field("majority", description="Voting method when a round names none.")
    default_samples: int = Field(1, ge=1, le=16, description="Samples per participant.")
    default_max_tokens: int = Field(256, ge=1, description="max_tokens when a round sets none.")
    default_temperature: float = Field(0.7, ge=0, le=2, description="Round temperature.")
    default_quorum: int = Field(1, ge=1, description="Minimum usable answers for a round.")
    participant_timeout_s: float = Field(120.0, gt=0, description="Per-participant deadline.")
    max_participants: int = Field(64, ge=1, description="Largest fan-out of one round.")
    agent_check_s: float = Field(
        10.0,
        gt=0,
        description="How often the leader asks its agents whether they answer; with none "
        "answering, the health of conclave.v1.LeaderService is NOT_SERVING.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Logging level."
    )

    @field_validator("agents", "discovery_interfaces", "voice_models", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("agents")
    @classmethod
    def _agents_syntax(cls, value: list[str]) -> list[str]:
        return [check_address(address) for address in value]
