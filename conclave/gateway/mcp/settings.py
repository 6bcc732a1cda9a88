"""Settings of `conclave mcp`, the MCP server on stdio (env prefix CONCLAVE_MCP_).

The same tools mounted on the gateway at `/mcp` take these values from the gateway's
own settings instead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from conclave.addresses import check_address
from conclave.config import ConclaveSettings
from conclave.swarm_security import SwarmClientFields


class McpSettings(ConclaveSettings, SwarmClientFields):
    model_config = SettingsConfigDict(env_prefix="CONCLAVE_MCP_", extra="forbid")

    leader: str = Field("127.0.0.1:50050", description="The leader's gRPC address host:port.")
    request_timeout_s: float = Field(600.0, gt=0, description="Longest round, seconds.")
    max_tokens_cap: int = Field(8192, ge=1, description="Largest max_tokens a tool accepts.")
    max_content_chars: int = Field(
        100_000, ge=1, description="Most characters in one tool call's question and system."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", description="Logging level (the log goes to stderr; stdout is the protocol)."
    )

    @field_validator("leader")
    @classmethod
    def _leader_syntax(cls, value: str) -> str:
        return check_address(value)
