"""Domain types of the leader: participants, candidates, decisions, rounds.

Frozen and free of I/O: voting methods are pure functions of these, and the round store
writes exactly these to SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Participant:
    """A voice in a round. Several participants may share one agent service (they batch
    together there); `agent` names that service."""

    name: str
    address: str  # host:port of the agent service
    agent: str = ""  # the agent service's own name (from GetInfo/zeroconf); "" if unknown
    system_prompt: str = ""  # persona
    weight: float = 1.0  # for the `weighted` voting method
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed_offset: int = 0
    model: str = ""  # which of the agent's models answers; "" = its default

    @property
    def service(self) -> str:
        """What two participants must share to be "the same agent service"."""
        return self.agent or self.address


@dataclass(frozen=True, slots=True)
class Candidate:
    """One answer (one sample of one participant), or why it is missing."""

    participant: str
    service: str
    sample_index: int
    text: str
    # "stop" | "length" | "cancelled" | "error" | "timeout" | "overloaded" | "rejected"
    finish_reason: str
    error: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0  # request sent -> this sample finished
    first_token_ms: float = 0.0
    generation_ms: float = 0.0  # the agent's own total for this sample
    turn: int = 0  # 0 for a plain vote; critique turns count up in conversation strategies
    # Of prompt_tokens, those the agent found in its KV cache instead of prefilling.
    cached_prompt_tokens: int = 0

    @property
    def answered(self) -> bool:
        """The participant answered (by stop or length), even if with nothing: counts
        towards the quorum. A small model may well say nothing."""
        return self.finish_reason in ("stop", "length")

    @property
    def ok(self) -> bool:
        """Counts in a vote: it answered and said something."""
        return self.answered and bool(self.text.strip())


@dataclass(frozen=True, slots=True)
class VoteGroup:
    """Candidates a method considers the same answer."""

    answer: str  # the normalized/extracted answer the group agrees on
    members: tuple[int, ...]  # indices into the candidate list
    weight: float  # the group's score under the method (count, weight sum, ...)


@dataclass(frozen=True, slots=True)
class Decision:
    method: str
    winner: int | None  # index into the candidate list; None when nothing is votable
    answer: str  # the winner's extracted answer ("" when winner is None)
    groups: tuple[VoteGroup, ...] = ()  # every group, best first
    agreement: float = 0.0  # share of votable candidates in the winning group, 0..1
    dissent: tuple[str, ...] = ()  # answers of the other groups, best first
    detail: str = ""  # how the method decided, for people reading the round

    @property
    def tally(self) -> dict[str, float]:
        return {g.answer: g.weight for g in self.groups}


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """The form every voice's answer must take (OpenAI's `response_format`)."""

    type: str = "text"  # "text" | "json_object" | "json_schema"
    schema: str = ""  # json_schema: the JSON Schema as JSON text
    name: str = ""
    # Every keyword of the schema holds (what a grammar cannot hold is checked after
    # generation); without strict only the shape the grammar holds is guaranteed.
    strict: bool = False


TEXT_FORMAT = ResponseFormat()


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A function a voice may call instead of answering (OpenAI's `tools`)."""

    name: str
    description: str = ""
    parameters: str = ""  # JSON Schema of the arguments as JSON text; "" = none
    strict: bool = False


@dataclass(frozen=True, slots=True)
class RoundRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content)
    strategy: str = "vote"
    method: str = "majority"
    participants: tuple[str, ...] = ()  # names; empty = all known participants
    samples_per_participant: int = 1
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    quorum: int = 1
    participant_timeout_s: float = 120.0
    stop: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)  # method/strategy specific
    tags: dict[str, str] = field(default_factory=dict)  # e.g. experiment and cell ids
    response_format: ResponseFormat = TEXT_FORMAT
    tools: tuple[ToolDefinition, ...] = ()
    # "auto" | "none" | "required" | "function:NAME"; "" = "auto" with tools, else "none"
    tool_choice: str = ""


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """Everything about one round, as stored and as served by GetRound."""

    id: str
    created_at: float  # unix seconds
    request: RoundRequest
    participants: tuple[Participant, ...]
    candidates: tuple[Candidate, ...]  # every turn of every participant, in order
    decision: Decision
    # "decided" | "no_quorum" | "failed"; in the store also "running" (not decided yet)
    # and "interrupted" (its leader stopped before deciding it)
    status: str
    error: str = ""
    wall_ms: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # e.g. per-turn wall times


@dataclass(frozen=True, slots=True)
class RoundSpec:
    """A round as a client asks for it: every None takes the leader's default."""

    messages: tuple[tuple[str, str], ...]  # (role, content)
    strategy: str = "vote"
    method: str | None = None
    participants: tuple[str, ...] = ()  # names; empty = every live participant
    samples_per_participant: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    quorum: int | None = None
    participant_timeout_s: float | None = None
    stop: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    response_format: ResponseFormat = TEXT_FORMAT
    tools: tuple[ToolDefinition, ...] = ()
    tool_choice: str = ""


@dataclass(frozen=True, slots=True)
class AgentListing:
    """One agent service as the leader lists it (ListAgents)."""

    name: str
    address: str
    source: str  # "static" | "zeroconf" | "kubernetes"
    participants: tuple[str, ...]  # the voices it serves
    model: str  # its default model's id; "" when it did not answer
    error: str  # why it did not answer GetInfo; "" when it did
    # Its GetInfo in the proto's JSON mapping (shown as is); None when it did not answer.
    info: dict[str, Any] | None = None
    # The model id each voice asks for (its own, else the agent's default; "" unknown).
    participant_models: dict[str, str] = field(default_factory=dict)
