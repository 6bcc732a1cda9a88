"""Protobuf <-> domain for the agent service. Nothing past the servicer sees a *_pb2 object."""

from __future__ import annotations

import uuid

from conclave.services.engine.pool import PoolEntry, PoolStats
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
    SamplingParams,
    Started,
    Timings,
    Usage,
)
from conclave.services.hardware.types import HardwareReport
from conclave.v1 import agent_pb2 as pb

_FINISH_REASONS = {
    FinishReason.STOP: pb.FINISH_REASON_STOP,
    FinishReason.LENGTH: pb.FINISH_REASON_LENGTH,
    FinishReason.CANCELLED: pb.FINISH_REASON_CANCELLED,
}
_DEFAULTS = SamplingParams()


def messages_from_proto(messages) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage(role=m.role, content=m.content) for m in messages)


def generation_request(
    request: pb.GenerateRequest, *, default_max_tokens: int, deadline_s: float | None = None
) -> GenerationRequest:
    """Unset optional fields take the service's defaults; validation happens in the engine.
    `deadline_s`: what is left of the call's deadline (None: it has none)."""

    def opt(name: str, default):
        return getattr(request, name) if request.HasField(name) else default

    sampling = SamplingParams(
        max_tokens=opt("max_tokens", default_max_tokens),
        temperature=opt("temperature", _DEFAULTS.temperature),
        top_p=opt("top_p", _DEFAULTS.top_p),
        top_k=opt("top_k", _DEFAULTS.top_k),
        min_p=opt("min_p", _DEFAULTS.min_p),
        repeat_penalty=opt("repeat_penalty", _DEFAULTS.repeat_penalty),
        seed=opt("seed", None),
        stop=tuple(request.stop),
        ignore_eos=request.ignore_eos,
    )
    return GenerationRequest(
        request_id=request.request_id or uuid.uuid4().hex,
        messages=messages_from_proto(request.messages),
        prompt=request.prompt or None,
        model=request.model,
        n=opt("n", 1),
        sampling=sampling,
        constraint=Constraint(
            grammar=request.grammar,
            json_schema=request.json_schema,
            after=request.constrain_after,
            allow_text=request.allow_text,
        ),
        deadline_s=deadline_s,
    )


def generate_event(event: GenerationEvent) -> pb.GenerateEvent:
    if isinstance(event, Delta):
        return pb.GenerateEvent(
            delta=pb.TokenDelta(index=event.index, text=event.text, token_ids=event.token_ids)
        )
    if isinstance(event, Finished):
        usage = event.usage
        t = event.timings
        return pb.GenerateEvent(
            finished=pb.SampleFinished(
                index=event.index,
                finish_reason=_FINISH_REASONS[event.reason],
                text=event.text,
                usage=pb.Usage(
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    total_tokens=usage.total_tokens,
                    cached_prompt_tokens=usage.cached_tokens,
                ),
                timings=pb.Timings(
                    queue_ms=t.queue_ms,
                    prefill_ms=t.prefill_ms,
                    decode_ms=t.decode_ms,
                    time_to_first_token_ms=t.time_to_first_token_ms,
                    total_ms=t.total_ms,
                    tokens_per_second=t.tokens_per_second(usage.completion_tokens),
                ),
            )
        )
    assert isinstance(event, Started)
    return pb.GenerateEvent(
        started=pb.GenerationStarted(
            request_id=event.request_id,
            model=event.model,
            prompt_tokens=event.prompt_tokens,
            n=event.n,
        )
    )


def embed_response(result: EmbedResult) -> pb.EmbedResponse:
    return pb.EmbedResponse(
        embeddings=[pb.Embedding(values=v) for v in result.vectors],
        model=result.model,
        prompt_tokens=result.prompt_tokens,
    )


def model_info(model: ModelDescription) -> pb.ModelInfo:
    return pb.ModelInfo(
        id=model.id,
        backend=model.backend,
        path=model.path,
        size_bytes=model.size_bytes,
        architecture=model.architecture,
        context_train=model.context_train,
        chat_format=model.chat_format,
        loaded=model.loaded,
        chat_format_reason=model.chat_format_reason,
        weights=model.weights,
        weights_reason=model.weights_reason,
        demonstrations=[
            pb.ChatMessage(role=role, content=text)
            for d in model.demonstrations
            for role, text in (("user", d.user), ("assistant", d.assistant))
        ],
    )


def pool_entry(entry: PoolEntry) -> pb.ModelInfo:
    message = model_info(entry.description)
    message.last_used_unix = entry.last_used
    message.estimated_bytes = entry.estimated_bytes
    return message


def hardware(report: HardwareReport) -> pb.Hardware:
    message = pb.Hardware(
        cpu_model=report.cpu_model,
        cpu_arch=report.cpu_arch,
        physical_cores=report.physical_cores,
        logical_cores=report.logical_cores,
        ram_total_bytes=report.ram_total_bytes,
        ram_available_bytes=report.ram_available_bytes,
        os=report.os,
        accelerators=[
            pb.Accelerator(
                vendor=a.vendor,
                name=a.name,
                memory_total_bytes=a.memory_total_bytes,
                driver=a.driver,
            )
            for a in report.accelerators
        ],
    )
    if report.raspberry_pi is not None:
        pi = report.raspberry_pi
        message.raspberry_pi.CopyFrom(
            pb.RaspberryPi(model=pi.model, throttled=pi.throttled, throttle_flags=pi.throttle_flags)
        )
    if report.temperature_c is not None:
        message.temperature_c = report.temperature_c
    return message


def agent_info(
    *,
    name: str,
    version: str,
    model: ModelDescription | None,
    stats: EngineStats | None,
    report: HardwareReport,
    uptime_seconds: float,
    models: list[PoolEntry] | None = None,
    pool: PoolStats | None = None,
    refused_total: int = 0,
) -> pb.AgentInfo:
    info = pb.AgentInfo(
        name=name,
        version=version,
        hardware=hardware(report),
        uptime_seconds=uptime_seconds,
        requests_refused_total=refused_total,
    )
    if model is not None:
        info.model.CopyFrom(model_info(model))
    if stats is not None:
        info.context_size = stats.context_per_slot
        info.slots_total = stats.slots_total
        info.slots_busy = stats.slots_busy
        info.queue_depth = stats.queue_depth
        info.queue_limit = stats.queue_limit
        info.tokens_per_second = stats.tokens_per_second
        info.threads = stats.threads
        info.requests_total = stats.requests_total
        info.tokens_generated_total = stats.tokens_generated_total
        info.prompt_tokens_cached_total = stats.prompt_tokens_cached_total
        info.prompt_tokens_prefilled_total = stats.prompt_tokens_prefilled_total
    info.models.extend(pool_entry(e) for e in models or [])
    if pool is not None:
        info.evictions_total = pool.evictions
        info.memory_budget_bytes = pool.budget_bytes
        info.memory_used_bytes = pool.used_bytes
    return info


# ---- the client side: what the leader sends to and reads from an agent ----------------

_REASONS_BY_PROTO = {v: k for k, v in _FINISH_REASONS.items()}


def request_to_proto(request: GenerationRequest) -> pb.GenerateRequest:
    s = request.sampling
    message = pb.GenerateRequest(
        messages=[pb.ChatMessage(role=m.role, content=m.content) for m in request.messages],
        prompt=request.prompt or "",
        model=request.model,
        n=request.n,
        max_tokens=s.max_tokens,
        temperature=s.temperature,
        top_p=s.top_p,
        top_k=s.top_k,
        min_p=s.min_p,
        repeat_penalty=s.repeat_penalty,
        stop=s.stop,
        ignore_eos=s.ignore_eos,
        request_id=request.request_id,
        grammar=request.constraint.grammar,
        json_schema=request.constraint.json_schema,
        constrain_after=request.constraint.after,
        allow_text=request.constraint.allow_text,
    )
    if s.seed is not None:
        message.seed = s.seed
    return message


def event_from_proto(event: pb.GenerateEvent) -> GenerationEvent:
    kind = event.WhichOneof("event")
    if kind == "delta":
        d = event.delta
        return Delta(index=d.index, text=d.text, token_ids=tuple(d.token_ids))
    if kind == "finished":
        f = event.finished
        t = f.timings
        return Finished(
            index=f.index,
            reason=_REASONS_BY_PROTO.get(f.finish_reason, FinishReason.STOP),
            text=f.text,
            usage=Usage(
                prompt_tokens=f.usage.prompt_tokens,
                completion_tokens=f.usage.completion_tokens,
                cached_tokens=f.usage.cached_prompt_tokens,
            ),
            timings=Timings(
                queue_ms=t.queue_ms,
                prefill_ms=t.prefill_ms,
                decode_ms=t.decode_ms,
                time_to_first_token_ms=t.time_to_first_token_ms,
                total_ms=t.total_ms,
            ),
        )
    s = event.started
    return Started(request_id=s.request_id, model=s.model, prompt_tokens=s.prompt_tokens, n=s.n)
