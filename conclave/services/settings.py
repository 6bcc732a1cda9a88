"""Settings of the agent service (env prefix CONCLAVE_AGENT_)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from conclave.config import ConclaveSettings
from conclave.services.engine.demonstrations import DEFAULT_DEMONSTRATIONS, DEFAULT_PREAMBLE
from conclave.services.model_source import default_cache_dir
from conclave.swarm_security import SwarmServerFields

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
ChatFormatName = Literal["gemma", "chatml", "completion", "template"]


class DemonstrationEntry(BaseModel):
    """One example exchange of the completion-style chat format (settings `demonstrations`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, description="What the user asks.")
    assistant: str = Field(min_length=1, description="The answer, written as replies should be.")


def _default_demonstrations() -> list[DemonstrationEntry]:
    return [DemonstrationEntry(user=d.user, assistant=d.assistant) for d in DEFAULT_DEMONSTRATIONS]


class ModelEntry(BaseModel):
    """One model this agent can serve (settings `models`, usually from a config file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        "",
        description="Name requests use in their `model` field (default: the file's name, "
        "or the upstream model string).",
    )
    backend: Literal["llama_cpp", "litellm"] = Field("llama_cpp", description="Engine.")
    path: str | None = Field(
        None,
        description="llama_cpp: GGUF file, or a bundled model (bundled, smollm2-135m-instruct).",
    )
    upstream: str | None = Field(
        None, description="litellm: the LiteLLM model string, e.g. ollama/llama3.2."
    )
    api_base: str | None = Field(None, description="litellm: base URL of the upstream.")
    api_key: SecretStr | None = Field(
        None, description="litellm: key for the upstream (else the provider's env variable)."
    )
    slots: int | None = Field(None, ge=1, le=64, description="llama_cpp: slots.")
    context_size: int | None = Field(None, ge=128, description="Context tokens per slot.")
    chat_format: ChatFormatName | None = Field(None, description="llama_cpp: force a format.")
    max_concurrent: int = Field(4, ge=1, description="litellm: upstream requests at once.")


class AgentSettings(ConclaveSettings, SwarmServerFields):
    model_config = SettingsConfigDict(env_prefix="CONCLAVE_AGENT_", extra="forbid")

    config_file: Path | None = Field(
        None, description="YAML or TOML file with any of these settings (lowest precedence)."
    )
    host: str = Field(
        "127.0.0.1", description="Address to bind. Use 0.0.0.0 on a blade that others reach."
    )
    port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    name: str = Field(
        default_factory=socket.gethostname,
        description="Name this agent reports and announces (default: the hostname).",
    )
    model: str | None = Field(
        None,
        description="GGUF file, or a bundled model: 'bundled' (Gemma 3 270M, a base model) "
        "or 'smollm2-135m-instruct'. Unset: both bundled models, Gemma the default.",
    )
    model_cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="Where the bundled model is assembled and checksum-verified once.",
    )
    backend: Literal["llama_cpp", "litellm"] = Field(
        "llama_cpp", description="Engine of the default model: llama_cpp or litellm."
    )
    upstream: str | None = Field(
        None, description="litellm backend: the LiteLLM model string (e.g. ollama/llama3.2)."
    )
    api_base: str | None = Field(None, description="litellm backend: the upstream's base URL.")
    api_key: SecretStr | None = Field(
        None, description="litellm backend: the upstream's key (else the provider's env var)."
    )
    models: list[ModelEntry] = Field(
        default_factory=list,
        description="Several models, loaded on demand (config file); the first is the default.",
    )
    models_dir: Path | None = Field(
        None, description="Every *.gguf here is a model, named after its file."
    )
    default_model: str | None = Field(None, description="Which model id answers by default.")
    memory_budget_bytes: int | None = Field(
        None,
        ge=0,
        description="Memory the loaded models may use (default: 80% of what the hardware "
        "detection found available); least recently used models are evicted beyond it.",
    )
    chat_format: ChatFormatName | None = Field(
        None,
        description="Force a chat format (completion: a transcript with demonstrations, for "
        "base models; template: the GGUF's own); default: the GGUF's template, else "
        "completion for a base model, else the architecture's turns (a bundled model: the "
        "format it answers best in).",
    )
    demonstrations: list[DemonstrationEntry] = Field(
        default_factory=_default_demonstrations,
        max_length=32,
        description="Example exchanges the completion chat format opens with (config file; "
        "a list of {user, assistant}). Keep them generic: one of each kind of question.",
    )
    chat_preamble: str = Field(
        DEFAULT_PREAMBLE,
        max_length=2000,
        description="First line of the completion chat format, before the demonstrations.",
    )
    slots: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Sequences decoded together (default: from the hardware detection).",
    )
    context_size: int | None = Field(
        None,
        ge=128,
        le=131072,
        description="Context tokens per slot, prompt plus output (default: from the hardware).",
    )
    threads: int | None = Field(
        None,
        ge=1,
        le=512,
        description="CPU threads for llama.cpp (default: one per physical core: all cores; "
        "hyper-threads only add contention to decoding).",
    )
    batch_size: int = Field(512, ge=32, le=8192, description="Tokens decoded in one step at most.")
    prefill_chunk: int = Field(
        32,
        ge=16,
        le=8192,
        description="Prompt tokens of one request prefilled per step while other requests "
        "generate, so their streams keep flowing (with none generating, a prompt takes as "
        "much of a step as batch_size allows).",
    )
    queue_limit: int = Field(
        16,
        ge=0,
        le=10000,
        description="Requests that may wait for a slot; beyond it, RESOURCE_EXHAUSTED.",
    )
    batch_invariant: bool = Field(
        True,
        description="Same greedy output alone or beside other requests (reproducible "
        "experiments under load): a BF16 KV stream per slot, so attention takes one kernel "
        "for every call; off shares one F16 KV pool and repacks weights: a little "
        "faster, not reproducible across load. Weights are repacked only after a self-test "
        "in a child process decoded with them on this CPU (cached per CPU and model); if "
        "it crashes the agent serves plain weights and GetInfo says why.",
    )
    prefix_cache: bool = Field(
        True,
        description="Free slots keep their KV cache: a prompt that starts like an earlier "
        "one (the chat format's examples, the same question, a voice's next turn) prefills "
        "only the rest. Output is the same either way.",
    )
    max_n: int = Field(8, ge=1, le=64, description="Largest n (samples) one request may ask.")
    default_max_tokens: int = Field(
        256, ge=1, description="max_tokens of a request that does not set it."
    )
    embed_context: int = Field(
        512, ge=32, le=32768, description="Largest input, in tokens, that Embed accepts."
    )
    max_embed_inputs: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Most strings one Embed request may hold; beyond it, INVALID_ARGUMENT.",
    )
    max_embed_chars: int = Field(
        1_000_000,
        ge=1,
        description="Most characters across the strings of one Embed request; beyond it, "
        "INVALID_ARGUMENT.",
    )
    max_count_tokens_chars: int = Field(
        1_000_000,
        ge=1,
        description="Most characters (messages and prompt) one CountTokens request may "
        "hold; beyond it, INVALID_ARGUMENT.",
    )
    max_message_bytes: int = Field(
        4 * 2**20, ge=1024, description="Largest gRPC request accepted, in bytes."
    )
    drain_seconds: float = Field(
        10.0, ge=0, description="On SIGTERM: how long running generations may finish."
    )
    announce: bool = Field(
        False, description="Announce this agent on zeroconf as _conclave._tcp.local."
    )
    announce_interfaces: Annotated[list[str] | None, NoDecode] = Field(
        None, description="Interface addresses zeroconf may use (default: all)."
    )
    log_level: LogLevel = Field(
        "INFO",
        description="Logging level of the service. DEBUG also logs every decode call: "
        "its time, and its rows per slot.",
    )

    @field_validator("announce_interfaces", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _litellm_needs_upstream(self) -> AgentSettings:
        # Checked here, not when the model loads: the port is not bound yet, and the
        # message can name the flag.
        if (
            self.backend == "litellm"
            and not self.upstream
            and not self.models
            and not self.models_dir
        ):
            raise ValueError(
                "upstream: --backend litellm needs --upstream, the LiteLLM model string "
                "(e.g. --upstream ollama/llama3.2 or openai/gpt-4o-mini)"
            )
        return self
