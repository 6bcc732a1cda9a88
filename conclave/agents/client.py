"""An AutoGen `ChatCompletionClient` that talks to one Conclave agent service over gRPC.

`create_stream` yields the text of each token delta as it arrives, then one
`CreateResult` (a `ConclaveCreateResult`, which adds the agent's timings). `create` is the
same call without the chunks. Cancelling the AutoGen `CancellationToken` cancels the gRPC
call, which stops the generation on the agent and frees its slot at the next decode step.

Token counting. AutoGen calls `count_tokens` and `remaining_tokens` *synchronously*.
Blocking an event loop on a network call would stall every other stream of the process,
and deadlock outright when the agent service runs on that same loop (as in-process tests
and `conclave up` do). So:

- outside a running event loop, `count_tokens` asks the agent (CountTokens RPC: the
  model's own tokenizer and chat format; exact);
- inside one, it answers the exact count when these messages were counted or sent before
  (every generation reports its exact prompt size), else the estimate of
  `conclave.agents.tokens` (chars / 4 plus chat-format overhead);
- `count_tokens_async` and `context_size` are the exact, non-blocking versions, for
  callers that can await.

`remaining_tokens` is the agent's context size (tokens per slot, prompt plus reply) minus
`count_tokens`. The context size is the config's `context_size` when set, else what the
agent reported (GetInfo / CountTokens), else `DEFAULT_CONTEXT_SIZE`.

The channel is created lazily in whichever loop first uses the client (and again in a
later loop), so one client works from any event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal, Self

from autogen_core import CancellationToken, Component
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    FinishReasons,
    LLMMessage,
    ModelCapabilities,  # type: ignore[attr-defined]
    ModelFamily,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel, ConfigDict, Field

from conclave.agents.messages import to_chat_messages
from conclave.agents.rpc import AgentClients, TokenCount, count_tokens_blocking
from conclave.agents.tokens import estimate_tokens
from conclave.errors import ConclaveError, InvalidRequest, Unavailable
from conclave.services.engine.types import (
    ChatMessage,
    Constraint,
    Delta,
    Finished,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    Started,
)

log = logging.getLogger(__name__)

DEFAULT_CONTEXT_SIZE = 2048  # only when neither the config nor the agent told us
COUNT_TIMEOUT_S = 2.0  # a synchronous CountTokens outside a loop must not hang a caller
INFO_TIMEOUT_S = 5.0
_COUNT_CACHE_SIZE = 256

# Conclave's finish reasons -> AutoGen's. A sample the agent cancelled (it was draining,
# say) has no AutoGen equivalent.
FINISH_REASONS: Mapping[FinishReason, FinishReasons] = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.CANCELLED: "unknown",
}

# extra_create_args a caller may pass per call; each overrides the config's default.
SAMPLING_ARGS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "seed",
    "stop",
)

MODEL_INFO = ModelInfo(
    vision=False,
    function_calling=False,
    json_output=True,  # constrained decoding: json_output=True or a pydantic model
    family=ModelFamily.UNKNOWN,
    structured_output=True,
    multiple_system_messages=False,
)


class ConclaveClientConfig(BaseModel):
    """What `dump_component` writes and `load_component` reads."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(description="host:port of the agent service.")
    participant: str = Field("", description="The voice this client speaks for (logs, ids).")
    system_prompt: str = Field("", description="Persona: opens the system text of every call.")
    model: str = Field("", description="One of the agent's models; empty: its default.")
    max_tokens: int = Field(256, ge=1, description="Reply length limit per call.")
    temperature: float | None = Field(None, ge=0, le=2, description="None: the agent's.")
    top_p: float | None = Field(None, gt=0, le=1, description="None: the agent's.")
    seed: int | None = Field(None, ge=0, description="Fixed seed for reproducible replies.")
    stop: list[str] = Field(default_factory=list, description="Extra stop strings.")
    timeout_s: float = Field(120.0, gt=0, description="Deadline of one call.")
    context_size: int | None = Field(
        None, ge=1, description="Context tokens per call; None: as the agent reports."
    )
    grammar: str = Field("", description="GBNF every reply matches (constrained decoding).")
    json_schema: str = Field("", description="JSON Schema (JSON text) every reply matches.")
    constrain_after: str = Field(
        "", description="Reason first: free text, then this marker, then the answer."
    )
    allow_text: bool = Field(False, description="A plain-text reply may stand for the JSON.")


class ConclaveCreateResult(CreateResult):
    """A CreateResult that also carries what the agent measured, for transcripts."""

    model: str = ""
    request_id: str = ""
    conclave_finish_reason: str = ""  # "stop" | "length" | "cancelled"
    latency_ms: float = 0.0  # call sent -> finished, seen by this client
    first_token_ms: float = 0.0  # call sent -> first delta, seen by this client
    generation_ms: float = 0.0  # the agent's own total (queue + prefill + decode)
    cached_prompt_tokens: int = 0  # of the prompt's tokens, those found in the agent's KV cache
    queue_ms: float = 0.0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0


class ConclaveChatCompletionClient(ChatCompletionClient, Component[ConclaveClientConfig]):
    """A model client for one agent service (see the module docstring). The keyword
    arguments are `ConclaveClientConfig`'s fields: `address` is required.

    `clients` may share agent clients, and so channels, between model clients (a leader
    round's participants use the leader's); it is runtime wiring, not configuration, so it
    does not appear in the dumped config and the client never closes what it was lent.
    """

    component_type = "model"
    component_config_schema = ConclaveClientConfig
    component_provider_override = "conclave.agents.client.ConclaveChatCompletionClient"

    def __init__(self, *, clients: AgentClients | None = None, **config: Any) -> None:
        self._config = ConclaveClientConfig(**config)
        self._clients = clients or AgentClients()
        self._owns_clients = clients is None
        self._actual_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._total_usage = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._context_size: int | None = self._config.context_size
        self._counts: OrderedDict[tuple[tuple[str, str], ...], int] = OrderedDict()

    @property
    def config(self) -> ConclaveClientConfig:
        return self._config

    @property
    def address(self) -> str:
        return self._config.address

    # ---- generation ---------------------------------------------------------------------

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> ConclaveCreateResult:
        result: ConclaveCreateResult | None = None
        async for item in self.create_stream(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        ):
            if isinstance(item, ConclaveCreateResult):
                result = item
        assert result is not None  # create_stream always ends with a result or raises
        return result

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | ConclaveCreateResult, None]:
        _refuse_features(tools, tool_choice)
        request = self._request(messages, extra_create_args, json_output)
        address = self._config.address
        started = time.perf_counter()
        first_token_ms = 0.0
        model = ""
        finished: Finished | None = None
        events = self._clients.generate(
            address,
            request,
            timeout=self._config.timeout_s,
            on_cancel=cancellation_token.add_callback if cancellation_token else None,
        )
        try:
            async for event in events:
                if isinstance(event, Delta):
                    if not first_token_ms:
                        first_token_ms = _ms_since(started)
                    if event.text:
                        yield event.text
                elif isinstance(event, Finished):
                    finished = event
                elif isinstance(event, Started):
                    model = event.model
        except ConclaveError:
            if _cancelled(cancellation_token):
                raise asyncio.CancelledError from None
            raise
        finally:
            await events.aclose()  # stops the agent's work if we leave early
        if finished is None:
            raise Unavailable(f"agent {address}: the stream ended before the reply finished")
        usage = RequestUsage(
            prompt_tokens=finished.usage.prompt_tokens,
            completion_tokens=finished.usage.completion_tokens,
        )
        self._record_usage(usage)
        self._remember_count(request.messages, usage.prompt_tokens)
        t = finished.timings
        yield ConclaveCreateResult(
            finish_reason=FINISH_REASONS[finished.reason],
            content=finished.text,
            usage=usage,
            cached=False,
            model=model,
            request_id=request.request_id,
            conclave_finish_reason=finished.reason.value,
            latency_ms=_ms_since(started),
            first_token_ms=first_token_ms,
            generation_ms=t.total_ms,
            cached_prompt_tokens=finished.usage.cached_tokens,
            queue_ms=t.queue_ms,
            prefill_ms=t.prefill_ms,
            decode_ms=t.decode_ms,
        )

    def _request(
        self,
        messages: Sequence[LLMMessage],
        extra: Mapping[str, Any],
        json_output: bool | type[BaseModel] | None = None,
    ) -> GenerationRequest:
        unknown = sorted(set(extra) - set(SAMPLING_ARGS))
        if unknown:
            raise InvalidRequest(
                f"unsupported extra_create_args {', '.join(unknown)}; "
                f"known: {', '.join(SAMPLING_ARGS)}",
                field="extra_create_args",
            )
        c = self._config
        defaults = SamplingParams()
        values: dict[str, Any] = {
            "max_tokens": c.max_tokens,
            "temperature": defaults.temperature if c.temperature is None else c.temperature,
            "top_p": defaults.top_p if c.top_p is None else c.top_p,
            "seed": c.seed,
            "stop": tuple(c.stop),
        }
        values.update(extra)
        values["stop"] = tuple(values["stop"])
        prefix = c.participant or "autogen"
        return GenerationRequest(
            request_id=f"{prefix}.{uuid.uuid4().hex[:12]}",
            messages=to_chat_messages(messages, system_prompt=c.system_prompt),
            model=c.model,
            n=1,
            sampling=SamplingParams(**values),
            constraint=self._constraint(json_output),
        )

    def _constraint(self, json_output: bool | type[BaseModel] | None) -> Constraint:
        """The config's constraint, or AutoGen's `json_output` for this call: True asks
        for one JSON object, a pydantic model for JSON of its schema."""
        c = self._config
        if json_output is None or json_output is False:
            return Constraint(c.grammar, c.json_schema, c.constrain_after, c.allow_text)
        if c.grammar or c.json_schema:
            raise InvalidRequest(
                "json_output and a configured grammar or json_schema exclude each other",
                field="json_output",
            )
        if json_output is True:
            schema = '{"type": "object"}'
        elif isinstance(json_output, type) and issubclass(json_output, BaseModel):
            schema = json.dumps(json_output.model_json_schema())
        else:
            raise InvalidRequest(
                "json_output must be True or a pydantic model class", field="json_output"
            )
        return Constraint(json_schema=schema, after=c.constrain_after)

    # ---- usage --------------------------------------------------------------------------

    def _record_usage(self, usage: RequestUsage) -> None:
        self._actual_usage = usage
        self._total_usage = RequestUsage(
            prompt_tokens=self._total_usage.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self._total_usage.completion_tokens + usage.completion_tokens,
        )

    def actual_usage(self) -> RequestUsage:
        """Usage of the last finished call."""
        return self._actual_usage

    def total_usage(self) -> RequestUsage:
        """Usage of every finished call of this client."""
        return self._total_usage

    # ---- tokens and context -------------------------------------------------------------

    def count_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        chat = to_chat_messages(messages, system_prompt=self._config.system_prompt)
        known = self._counts.get(_key(chat))
        if known is not None:
            return known
        if _in_event_loop():
            return estimate_tokens(m.content for m in chat)
        try:
            return self._count_blocking(chat)
        except (ConclaveError, ValueError) as error:
            log.debug("CountTokens on %s failed (%s); estimating", self.address, error)
            return estimate_tokens(m.content for m in chat)

    async def count_tokens_async(self, messages: Sequence[LLMMessage]) -> int:
        """The agent's exact count (one CountTokens call), or the estimate when it cannot
        be reached."""
        chat = to_chat_messages(messages, system_prompt=self._config.system_prompt)
        known = self._counts.get(_key(chat))
        if known is not None:
            return known
        try:
            count = await self._clients.count_tokens(
                self.address, chat, model=self._config.model, timeout=COUNT_TIMEOUT_S
            )
        except ConclaveError as error:
            log.debug("CountTokens on %s failed (%s); estimating", self.address, error)
            return estimate_tokens(m.content for m in chat)
        return self._learn(chat, count)

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        used = self.count_tokens(messages, tools=tools)
        return max(0, (self._context_size or DEFAULT_CONTEXT_SIZE) - used)

    async def context_size(self) -> int:
        """Context tokens per call on the agent (prompt plus reply): the config's value,
        else asked once (GetInfo), else `DEFAULT_CONTEXT_SIZE` if the agent cannot say."""
        if self._context_size is None:
            try:
                info = await self._clients.info(self.address, timeout=INFO_TIMEOUT_S)
            except ConclaveError as error:
                log.warning("GetInfo on %s failed (%s)", self.address, error)
                return DEFAULT_CONTEXT_SIZE
            if info.context_size:
                self._context_size = info.context_size
        return self._context_size or DEFAULT_CONTEXT_SIZE

    def _count_blocking(self, chat: tuple[ChatMessage, ...]) -> int:
        count = count_tokens_blocking(
            self.address,
            chat,
            model=self._config.model,
            timeout=COUNT_TIMEOUT_S,
            security=self._clients.channels.security,
        )
        return self._learn(chat, count)

    def _learn(self, chat: Sequence[ChatMessage], count: TokenCount) -> int:
        """Keeps what an exact count told: the context size, and this prompt's tokens."""
        if self._config.context_size is None and count.context_size:
            self._context_size = count.context_size
        self._remember_count(chat, count.tokens)
        return count.tokens

    def _remember_count(self, chat: Sequence[ChatMessage], tokens: int) -> None:
        if tokens <= 0:
            return
        key = _key(chat)
        self._counts[key] = tokens
        self._counts.move_to_end(key)
        while len(self._counts) > _COUNT_CACHE_SIZE:
            self._counts.popitem(last=False)

    # ---- what AutoGen asks about the model ----------------------------------------------

    @property
    def model_info(self) -> ModelInfo:
        return MODEL_INFO

    @property
    def capabilities(self) -> ModelCapabilities:  # type: ignore[override]
        warnings.warn(
            "capabilities is deprecated, use model_info instead", DeprecationWarning, stacklevel=2
        )
        return ModelCapabilities(  # type: ignore[typeddict-item]
            vision=False, function_calling=False, json_output=True
        )

    async def close(self) -> None:
        if self._owns_clients:
            await self._clients.close()

    # ---- Component ----------------------------------------------------------------------

    def _to_config(self) -> ConclaveClientConfig:
        return self._config.model_copy(deep=True)

    @classmethod
    def _from_config(cls, config: ConclaveClientConfig) -> Self:
        return cls(**config.model_dump())


def _refuse_features(tools: Sequence[Tool | ToolSchema], tool_choice: object) -> None:
    if tools or tool_choice not in ("auto", "none"):
        raise InvalidRequest(
            "this model client takes no tools: a round's voices call tools through the "
            "leader (RunRound tools), the gateway's /v1/chat/completions takes them too",
            field="tools",
        )


def _key(chat: Sequence[ChatMessage]) -> tuple[tuple[str, str], ...]:
    return tuple((m.role, m.content) for m in chat)


def _cancelled(token: CancellationToken | None) -> bool:
    return token is not None and token.is_cancelled()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
