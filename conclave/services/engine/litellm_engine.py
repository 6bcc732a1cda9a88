"""The LiteLLM backend: a slot of the swarm answered by any provider LiteLLM knows
(Ollama on a PC, an OpenAI-compatible server, a cloud model used as a judge).

Credentials come from settings or the provider's own environment variables, never from
requests; they are passed to LiteLLM per call and never logged or reported.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from conclave.errors import (
    ConclaveError,
    DeadlineExceeded,
    InvalidRequest,
    NotFound,
    Overloaded,
    Unavailable,
)
from conclave.redact import environment_secrets, redact
from conclave.services.engine.json_grammar import parse_schema
from conclave.services.engine.stop import StopMatcher
from conclave.services.engine.types import (
    ChatMessage,
    Constraint,
    Delta,
    EmbedResult,
    EngineStats,
    Finished,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    ModelDescription,
    Started,
    Timings,
    Usage,
)
from conclave.services.engine.validation import RequestLimits, validate_generation

# LiteLLM downloads a price map at import unless told not to; an agent must never stall
# on the network at start-up.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import jsonschema
import litellm

# LiteLLM prints a "Give Feedback / Get Help" banner to stdout on every failed call; the
# error itself reaches the caller, and stdout is the agent's own (its "ready on" line).
litellm.suppress_debug_info = True

# LiteLLM's exceptions -> the service's domain errors (the gRPC table maps those).
ERROR_TABLE: tuple[tuple[type[Exception], type[ConclaveError]], ...] = (
    (litellm.exceptions.ContextWindowExceededError, InvalidRequest),
    (litellm.exceptions.NotFoundError, NotFound),
    (litellm.exceptions.RateLimitError, Overloaded),
    (litellm.exceptions.Timeout, DeadlineExceeded),
    (litellm.exceptions.BadRequestError, InvalidRequest),
    (litellm.exceptions.APIConnectionError, Unavailable),
    (litellm.exceptions.AuthenticationError, Unavailable),
    (litellm.exceptions.ServiceUnavailableError, Unavailable),
    (litellm.exceptions.APIError, Unavailable),
)


def domain_error(model: str, error: Exception, known_secrets: Sequence[str] = ()) -> ConclaveError:
    target = next((t for s, t in ERROR_TABLE if isinstance(error, s)), Unavailable)
    # LiteLLM's messages can be long and repeat the provider's; keep the first line. The
    # provider's text may echo the key it was sent (a 401): masked before it goes on.
    text = redact(str(error).strip(), known_secrets)
    detail = text.splitlines()[0][:300] if text else type(error).__name__
    return target(f"upstream {model}: {detail}")


@dataclass(frozen=True, slots=True)
class LiteLLMConfig:
    model_id: str  # the name this agent serves it under
    upstream: str  # the LiteLLM model string, e.g. "ollama/llama3.2" or "openai/x"
    api_base: str | None = None
    api_key: str | None = None
    max_concurrent: int = 4
    context_size: int = 4096
    max_n: int = 8
    timeout_s: float = 300.0


class LiteLLMEngine:
    backend = "litellm"

    def __init__(self, config: LiteLLMConfig) -> None:
        self._config = config
        # What this engine may send upstream, so never repeats: its key, or the
        # provider's environment variable LiteLLM falls back on.
        self._secrets = [*([config.api_key] if config.api_key else []), *environment_secrets()]
        self._gate = asyncio.Semaphore(config.max_concurrent)
        self._busy = 0
        self._requests = 0
        self._tokens = 0
        self.limits = RequestLimits(max_n=config.max_n, context_per_slot=config.context_size)

    @property
    def description(self) -> ModelDescription:
        return ModelDescription(
            id=self._config.model_id,
            backend=self.backend,
            path=self._config.upstream,  # the upstream model, never its credentials
            size_bytes=0,
            architecture="remote",
            context_train=self._config.context_size,
            chat_format="upstream",
        )

    def _call_args(self) -> dict:
        # No retries here: the leader decides what to do with a missing voice, and a
        # blade should say "upstream down" at once rather than after minutes of backoff.
        args: dict = {
            "model": self._config.upstream,
            "timeout": self._config.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
        }
        if self._config.api_base:
            args["api_base"] = self._config.api_base
        if self._config.api_key:
            args["api_key"] = self._config.api_key
        return args

    def _check_model(self, model: str) -> None:
        if model and model != self._config.model_id:
            raise NotFound(
                f"model {model!r} is not served here; this agent serves {self._config.model_id!r}"
            )

    @staticmethod
    def _messages(request_messages: Sequence[ChatMessage], prompt: str | None) -> list[dict]:
        if request_messages:
            return [{"role": m.role, "content": m.content} for m in request_messages]
        return [{"role": "user", "content": prompt or ""}]

    def count_tokens(self, messages: Sequence[ChatMessage], prompt: str | None, model: str) -> int:
        self._check_model(model)
        # LiteLLM's tokenizer for the upstream model (tiktoken's cl100k for unknown ones).
        return litellm.token_counter(
            model=self._config.upstream, messages=self._messages(messages, prompt)
        )

    def _response_format(self, constraint: Constraint) -> dict | None:
        """OpenAI's `response_format` for a json_schema, when the upstream takes one. A
        grammar, reason-first and text-or-JSON need the llama.cpp backend's sampler."""
        if not constraint.active:
            return None
        for name, asked in (
            ("grammar", constraint.grammar),
            ("constrain_after", constraint.after),
            ("allow_text", constraint.allow_text),
        ):
            if asked:
                raise InvalidRequest(
                    f"{name} needs the llama_cpp backend; this agent forwards to "
                    f"{self._config.upstream} (send json_schema alone)",
                    field=name,
                )
        provider = litellm.get_llm_provider(self._config.upstream)[1]
        supported = litellm.get_supported_openai_params(
            model=self._config.upstream, custom_llm_provider=provider
        )
        if "response_format" not in (supported or ()):
            raise InvalidRequest(
                f"upstream {self._config.upstream} takes no response_format: "
                "it cannot answer under a json_schema",
                field="json_schema",
            )
        schema = parse_schema(constraint.json_schema)
        jsonschema.validators.validator_for(schema).check_schema(schema)
        return {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": True},
        }

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        self._check_model(request.model)
        validate_generation(request, self.limits)
        try:
            response_format = self._response_format(request.constraint)
        except jsonschema.SchemaError as error:
            raise InvalidRequest(
                f"json_schema is not a valid JSON Schema: {error.message}", field="json_schema"
            ) from None
        messages = self._messages(request.messages, request.prompt)
        prompt_tokens = self.count_tokens(request.messages, request.prompt, "")
        yield Started(
            request_id=request.request_id,
            model=self._config.model_id,
            prompt_tokens=prompt_tokens,
            n=request.n,
        )
        # One upstream stream per sample: providers differ in whether they honour n.
        queue: asyncio.Queue[GenerationEvent | ConclaveError] = asyncio.Queue()
        tasks = [
            asyncio.create_task(
                self._sample(request, messages, i, prompt_tokens, queue, response_format)
            )
            for i in range(request.n)
        ]
        remaining = request.n
        try:
            while remaining:
                event = await queue.get()
                if isinstance(event, ConclaveError):
                    raise event
                if isinstance(event, Finished):
                    remaining -= 1
                yield event
        finally:
            for task in tasks:
                task.cancel()

    async def _sample(
        self,
        request: GenerationRequest,
        messages: list[dict],
        index: int,
        prompt_tokens: int,
        queue: asyncio.Queue,
        response_format: dict | None,
    ) -> None:
        submitted = time.perf_counter()
        try:
            async with self._gate:
                self._busy += 1
                self._requests += 1
                started = time.perf_counter()
                try:
                    await self._stream(
                        request,
                        messages,
                        index,
                        prompt_tokens,
                        queue,
                        submitted,
                        started,
                        response_format,
                    )
                finally:
                    self._busy -= 1
        except asyncio.CancelledError:
            raise
        except ConclaveError as error:
            queue.put_nowait(error)
        except Exception as error:  # LiteLLM raises its own (and sometimes httpx's)
            queue.put_nowait(domain_error(self._config.upstream, error, self._secrets))

    async def _stream(
        self,
        request: GenerationRequest,
        messages: list[dict],
        index: int,
        prompt_tokens: int,
        queue: asyncio.Queue,
        submitted: float,
        started: float,
        response_format: dict | None,
    ) -> None:
        s = request.sampling
        kwargs = {
            **self._call_args(),
            "messages": messages,
            "stream": True,
            "max_tokens": s.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
        }
        if s.seed is not None:
            kwargs["seed"] = s.seed + index
        if s.stop:
            kwargs["stop"] = list(s.stop)
        if response_format is not None:
            kwargs["response_format"] = response_format
        stream = await litellm.acompletion(**kwargs)
        stop = StopMatcher(s.stop)
        parts: list[str] = []
        pieces = 0
        first = 0.0
        reason = FinishReason.STOP
        async for chunk in stream:
            choice = chunk.choices[0] if chunk.choices else None
            if choice is None:
                continue
            text = getattr(choice.delta, "content", None) or ""
            if text:
                pieces += 1
                first = first or time.perf_counter()
                released = stop.feed(text)
                if released:
                    parts.append(released)
                    queue.put_nowait(Delta(index=index, text=released, token_ids=()))
                if stop.stopped:
                    break
            if choice.finish_reason == "length":
                reason = FinishReason.LENGTH
        tail = stop.flush()
        if tail:
            parts.append(tail)
            queue.put_nowait(Delta(index=index, text=tail, token_ids=()))
        text = "".join(parts)
        if response_format is not None and reason is FinishReason.STOP:
            _check_answer(self._config.upstream, text, response_format["json_schema"]["schema"])
        completion = litellm.token_counter(model=self._config.upstream, text=text) if text else 0
        self._tokens += completion
        end = time.perf_counter()
        first = first or end
        queue.put_nowait(
            Finished(
                index=index,
                reason=reason,
                text=text,
                usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion),
                timings=Timings(
                    queue_ms=(started - submitted) * 1000,
                    prefill_ms=0.0,
                    decode_ms=(end - first) * 1000,
                    time_to_first_token_ms=(first - submitted) * 1000,
                    total_ms=(end - submitted) * 1000,
                ),
            )
        )

    async def embed(self, inputs: Sequence[str], model: str) -> EmbedResult:
        self._check_model(model)
        if not inputs:
            raise InvalidRequest("input must hold at least one string", field="input")
        try:
            reply = await litellm.aembedding(**self._call_args(), input=list(inputs))
        except Exception as error:
            raise domain_error(self._config.upstream, error, self._secrets) from None
        vectors = tuple(tuple(item["embedding"]) for item in reply.data)
        tokens = getattr(reply, "usage", None)
        return EmbedResult(
            vectors=vectors,
            model=self._config.model_id,
            prompt_tokens=getattr(tokens, "prompt_tokens", 0) or 0,
        )

    def stats(self) -> EngineStats:
        return EngineStats(
            slots_total=self._config.max_concurrent,
            slots_busy=self._busy,
            queue_depth=0,
            queue_limit=0,
            context_per_slot=self._config.context_size,
            threads=0,
            tokens_per_second=0.0,
            requests_total=self._requests,
            tokens_generated_total=self._tokens,
        )

    def close(self) -> None:
        return None


def _check_answer(upstream: str, text: str, schema: dict) -> None:
    """An upstream that took response_format and ignored it must not pass for one that
    kept it: the answer is checked against the schema."""
    try:
        jsonschema.validate(json.loads(text), schema)
    except (ValueError, jsonschema.ValidationError) as error:
        detail = getattr(error, "message", None) or str(error)
        raise Unavailable(
            f"upstream {upstream} answered outside the json_schema: {detail[:200]}"
        ) from None
