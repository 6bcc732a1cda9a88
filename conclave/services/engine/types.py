"""Domain types of a generation: what a request asks, and the events it streams back.

Nothing here knows about protobuf or llama.cpp. Requests are frozen and validated once at
the edge (`validate.py`); events are small slotted dataclasses because the engine makes one
per token.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """llama.cpp's sampler settings. Defaults are llama.cpp's own."""

    max_tokens: int = 256
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True, slots=True)
class Constraint:
    """What every sample's text must match (constrained decoding); inactive when neither
    a grammar nor a schema is given. See `grammar_text.py` for how the parts combine."""

    grammar: str = ""  # GBNF (llama.cpp's grammar format); its rule "root" starts it
    json_schema: str = ""  # a JSON Schema as JSON text: the answer is one JSON value
    # Reason first: one paragraph of free text, then this marker on a new line, then the
    # constrained answer. Empty: the answer is the whole reply.
    after: str = ""
    # The reply may instead be free text that does not start with "{" (answer or call).
    allow_text: bool = False

    @property
    def active(self) -> bool:
        return bool(self.grammar or self.json_schema)


NO_CONSTRAINT = Constraint()


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    request_id: str
    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None
    model: str = ""
    n: int = 1
    sampling: SamplingParams = field(default_factory=SamplingParams)
    constraint: Constraint = NO_CONSTRAINT
    # Seconds the caller waits for the whole answer (its RPC deadline); None: no limit.
    # Work that must queue and would not finish in time is refused at once (admission.py).
    deadline_s: float | None = None


class FinishReason(enum.Enum):
    STOP = "stop"
    LENGTH = "length"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens found in the KV cache, not prefilled

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Timings:
    queue_ms: float
    prefill_ms: float
    decode_ms: float
    time_to_first_token_ms: float
    total_ms: float

    def tokens_per_second(self, completion_tokens: int) -> float:
        """Decode throughput of one sample: tokens after the first over the decode time."""
        if self.decode_ms <= 0 or completion_tokens <= 1:
            return 0.0
        return (completion_tokens - 1) / (self.decode_ms / 1000.0)


@dataclass(frozen=True, slots=True)
class Started:
    request_id: str
    model: str
    prompt_tokens: int
    n: int


@dataclass(frozen=True, slots=True)
class Delta:
    index: int
    text: str
    token_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    index: int
    reason: FinishReason
    text: str
    usage: Usage
    timings: Timings


GenerationEvent = Started | Delta | Finished


@dataclass(frozen=True, slots=True)
class EmbedResult:
    vectors: tuple[tuple[float, ...], ...]
    model: str
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class Demonstration:
    """One example exchange that opens a completion-style transcript."""

    user: str
    assistant: str


@dataclass(frozen=True, slots=True)
class ModelDescription:
    id: str
    backend: str
    path: str
    size_bytes: int
    architecture: str
    context_train: int
    chat_format: str
    loaded: bool = True
    chat_format_reason: str = ""
    # The example exchanges a completion-style chat format opens with (user, assistant).
    demonstrations: tuple[Demonstration, ...] = ()
    weights: str = ""  # llama.cpp models: "repacked" | "plain"
    weights_reason: str = ""


@dataclass(frozen=True, slots=True)
class EngineStats:
    slots_total: int
    slots_busy: int
    queue_depth: int
    queue_limit: int
    context_per_slot: int
    threads: int
    tokens_per_second: float
    requests_total: int
    tokens_generated_total: int
    prompt_tokens_cached_total: int = 0
    prompt_tokens_prefilled_total: int = 0
    embed_inputs_total: int = 0  # vectors computed by Embed (a cancelled one stops adding)
