"""Settings of the gateway (env prefix CONCLAVE_GATEWAY_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from conclave.addresses import check_address
from conclave.config import ConclaveSettings
from conclave.swarm_security import SwarmClientFields


class GatewaySettings(ConclaveSettings, SwarmClientFields):
    model_config = SettingsConfigDict(env_prefix="CONCLAVE_GATEWAY_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port; 0 picks a free one.")
    leader: str = Field("127.0.0.1:50050", description="The leader's gRPC address host:port.")
    api_key: SecretStr | None = Field(
        None,
        description="When set, every /v1 request needs 'Authorization: Bearer KEY'; empty "
        "(or blank) is the same as unset: no key. Set it in the environment (or the config "
        "file), not as --api-key: a command line shows in `ps`.",
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest request body.")
    max_messages: int = Field(256, ge=1, description="Most messages in one chat request.")
    max_content_chars: int = Field(
        100_000, ge=1, description="Most characters across one request's messages."
    )
    max_tokens_cap: int = Field(8192, ge=1, description="Largest max_tokens accepted.")
    max_n: int = Field(8, ge=1, le=64, description="Largest n accepted.")
    max_concurrent: int = Field(
        64,
        ge=1,
        description="Requests answered at once; beyond it, 429 with Retry-After at once "
        "(never a stream cut short later).",
    )
    retry_after_s: int = Field(2, ge=1, description="Retry-After sent with a 429.")
    keepalive_s: float = Field(
        5.0, gt=0, description="Seconds between SSE keep-alive comments while a vote runs."
    )
    request_timeout_s: float = Field(600.0, gt=0, description="Longest round, seconds.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Logging level."
    )
    ui: bool = Field(
        True,
        description="Serve the dashboard (Ask, Rounds, Blades, Experiments) at /ui; it reads "
        "the same API as any client and adds nothing to a completion's path.",
    )
    experiments_dir: Path | None = Field(
        None,
        description="Folder of experiment runs (output folders of 'conclave experiment run') "
        "that /v1/experiments and the dashboard show; unset: none.",
    )

    @field_validator("experiments_dir")
    @classmethod
    def _existing_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"experiments_dir {str(value)!r} is not a folder")
        return value

    @field_validator("leader")
    @classmethod
    def _leader_syntax(cls, value: str) -> str:
        return check_address(value)

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_no_key(cls, value: object) -> object:
        # Compose writes `${CONCLAVE_API_KEY:-}`, an empty string when the variable is
        # unset: that means "no key", not "the key is the empty string" (which only a
        # bare `Authorization: Bearer ` would match, so every client would get 401).
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and not raw.strip():
            return None
        return value
