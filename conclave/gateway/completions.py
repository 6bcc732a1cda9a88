"""OpenAI completions answered by rounds: request -> RoundSpec, decided round -> response.

How a round becomes choices:
- a strategy model: choice 0 is the winner; with n > 1, further choices are the best
  representative of each other answer group (the dissent), then other members of the
  groups, so `n` distinct answers come back ranked by votes;
- `agent/<name>`: the participant draws n samples; choice i is sample i.

Usage counts every token the round spent: all candidates of all turns, prompt and
completion — the swarm's real cost, not one agent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from conclave.errors import ConclaveError, InvalidRequest, Overloaded, Unavailable
from conclave.gateway import structured
from conclave.gateway.catalog import Target
from conclave.gateway.errors import Shaper, error_body
from conclave.gateway.metrics import Metrics
from conclave.gateway.protocol import SamplingFields
from conclave.gateway.settings import GatewaySettings
from conclave.gateway.structured import PLAIN_FORM, AnswerForm
from conclave.leader.client import LeaderClient
from conclave.leader.events import CandidateText, RoundDecided, RoundEvent, RoundStarted
from conclave.leader.structured import PLAIN, OutputSpec
from conclave.leader.types import Candidate, RoundRecord, RoundSpec
from conclave.redact import secrets_in

T = TypeVar("T")
MAX_STOP = 8
KEEPALIVE_COMMENT = ": keep-alive\n\n"  # an SSE comment: clients skip it, proxies see life
FINISH = {"stop": "stop", "length": "length"}


@dataclass(frozen=True, slots=True)
class Kind:
    """Chat or text completion: the names OpenAI uses for each."""

    object: str
    chunk_object: str
    id_prefix: str
    chat: bool


CHAT = Kind("chat.completion", "chat.completion.chunk", "chatcmpl-", True)
TEXT = Kind("text_completion", "text_completion", "cmpl-", False)


def check_limits(
    request: SamplingFields, messages: Sequence[tuple[str, str]], settings: GatewaySettings
) -> None:
    limit = request.token_limit()
    if limit is not None and not 1 <= limit <= settings.max_tokens_cap:
        field = (
            "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
        )
        raise InvalidRequest(
            f"{field} must be between 1 and {settings.max_tokens_cap}, got {limit}", field=field
        )
    if request.n > settings.max_n:
        raise InvalidRequest(f"n must be at most {settings.max_n}, got {request.n}", field="n")
    if len(messages) > settings.max_messages:
        raise InvalidRequest(
            f"at most {settings.max_messages} messages, got {len(messages)}", field="messages"
        )
    chars = sum(len(content) for _, content in messages)
    if chars > settings.max_content_chars:
        raise InvalidRequest(
            f"the messages hold {chars} characters, more than {settings.max_content_chars}",
            field="messages",
        )
    if not any(content.strip() for _, content in messages):
        raise InvalidRequest("the messages are empty", field="messages")
    stops = request.stop_list()
    if len(stops) > MAX_STOP or any(not s for s in stops):
        raise InvalidRequest(f"stop takes 1 to {MAX_STOP} non-empty strings", field="stop")


def round_spec(
    request: SamplingFields,
    target: Target,
    messages: Sequence[tuple[str, str]],
    form: AnswerForm = PLAIN_FORM,
) -> RoundSpec:
    options = request.conclave
    direct = target.participant is not None
    samples = request.n if direct else (options.samples_per_participant if options else None)
    tags = dict(options.tags or {}) if options else {}
    tags.setdefault("api", "openai")
    tags.setdefault("model", target.model)
    if request.user:
        tags.setdefault("user", request.user)
    if direct:
        participants: tuple[str, ...] = (target.participant,)  # type: ignore[assignment]
    else:
        participants = tuple(options.participants or ()) if options else ()
    return RoundSpec(
        messages=tuple(messages),
        strategy=target.strategy,
        method=options.method if options else None,
        participants=participants,
        samples_per_participant=samples,
        max_tokens=request.token_limit(),
        temperature=request.temperature,
        top_p=request.top_p,
        seed=request.seed,
        quorum=options.quorum if options else None,
        participant_timeout_s=options.participant_timeout_s if options else None,
        params=dict(options.params or {}) if options else {},
        tags=tags,
        stop=tuple(request.stop_list()),
        response_format=form.response_format,
        tools=form.tools,
        tool_choice=form.tool_choice,
    )


def choices(record: RoundRecord, *, n: int, direct: bool) -> list[dict[str, Any]]:
    """(text, finish_reason) per choice, see the module docstring for the rule."""
    candidates = record.candidates
    decision = record.decision
    if direct:
        picked = sorted((c for c in candidates if c.turn == 0), key=lambda c: c.sample_index)[:n]
    else:
        order: list[int] = []
        if decision.winner is not None:
            order.append(decision.winner)
        groups = decision.groups
        # One per *other* answer group first (the winner already speaks for its own).
        order += [g.members[0] for g in groups if g.members and decision.winner not in g.members]
        order += [m for g in groups for m in g.members]
        if not order:  # everyone answered with nothing: that empty answer is the answer
            last = max((c.turn for c in candidates), default=0)
            order = [
                i for i, c in enumerate(candidates) if c.turn == last and c.finish_reason in FINISH
            ]
        picked = [candidates[i] for i in dict.fromkeys(order)][:n]
    output = output_of(record)
    out: list[dict[str, Any]] = []
    for rank, c in enumerate(picked):
        finish = FINISH.get(c.finish_reason, "stop")
        if not output.structured:
            out.append({"text": c.text, "finish_reason": finish})
            continue
        reply = output.read(c.text)
        if rank == 0 and not direct and decision.method == "fields" and decision.answer:
            # A field-by-field vote answers with the object of the winning values.
            reply = replace(reply, content=decision.answer)
        if reply.kind == "tool_call" and reply.valid:
            finish = "tool_calls"
        out.append({"text": reply.content, "finish_reason": finish, "reply": reply})
    return out


def output_of(record: RoundRecord) -> OutputSpec:
    """How the round's replies read (its request was checked when the round began)."""
    r = record.request
    if r.response_format.type == "text" and not r.tools:
        return PLAIN
    return OutputSpec.of(r)


def usage(record: RoundRecord) -> dict[str, Any]:
    """Every token the round spent, over all its candidates; `cached_tokens`: the prompt
    tokens the agents found in their KV caches instead of prefilling."""
    prompt = sum(c.prompt_tokens for c in record.candidates)
    completion = sum(c.completion_tokens for c in record.candidates)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached_prompt_tokens(record)},
    }


def cached_prompt_tokens(record: RoundRecord) -> int:
    return sum(c.cached_prompt_tokens for c in record.candidates)


def extension(record: RoundRecord) -> dict[str, Any]:
    """The `conclave` field of a response: which round answered and how it voted."""
    decision = record.decision
    winner: Candidate | None = (
        record.candidates[decision.winner] if decision.winner is not None else None
    )
    return {
        "round_id": record.id,
        "strategy": record.request.strategy,
        "method": record.request.method,
        "status": record.status,
        "winner": winner.participant if winner is not None else None,
        "answer": decision.answer,
        "agreement": decision.agreement,
        "votes": [
            {"answer": g.answer, "weight": g.weight, "members": list(g.members)}
            for g in decision.groups
        ],
        "dissent": list(decision.dissent),
        "candidates": len(record.candidates),
        "wall_ms": record.wall_ms,
    }


def response_body(
    kind: Kind, model: str, record: RoundRecord, *, n: int, direct: bool
) -> dict[str, Any]:
    picked = choices(record, n=n, direct=direct)
    if not picked:
        raise Unavailable(f"round {record.id} produced no answer")
    body_choices = []
    for i, choice in enumerate(picked):
        entry: dict[str, Any] = {
            "index": i,
            "finish_reason": choice["finish_reason"],
            "logprobs": None,
        }
        if kind.chat and choice.get("reply") is not None:
            entry["message"] = structured.message(choice["reply"], round_id=record.id, index=i)
        elif kind.chat:
            entry["message"] = {"role": "assistant", "content": choice["text"]}
        else:
            entry["text"] = choice["text"]
        body_choices.append(entry)
    return {
        "id": kind.id_prefix + record.id,
        "object": kind.object,
        "created": int(record.created_at),
        "model": model,
        "choices": body_choices,
        "usage": usage(record),
        "system_fingerprint": None,
        "conclave": extension(record),
    }


class CompletionService:
    def __init__(self, leader: LeaderClient, settings: GatewaySettings, metrics: Metrics):
        self._leader = leader
        self._settings = settings
        self._metrics = metrics

    async def complete(
        self,
        kind: Kind,
        request: SamplingFields,
        target: Target,
        messages: Sequence[tuple[str, str]],
        form: AnswerForm = PLAIN_FORM,
    ) -> dict[str, Any]:
        decided = await self.decide(round_spec(request, target, messages, form))
        return response_body(
            kind, target.model, decided, n=request.n, direct=target.participant is not None
        )

    async def decide(
        self,
        spec: RoundSpec,
        on_event: Callable[[RoundEvent], Awaitable[None]] | None = None,
    ) -> RoundRecord:
        """Runs the round to its decision (every door's whole answer), counted in the
        metrics; `on_event` sees each event on the way (MCP's progress notifications)."""
        try:
            decided = await self._leader.decide(
                spec, timeout=self._settings.request_timeout_s, on_event=on_event
            )
        except Overloaded:
            self._metrics.refusal("agents_busy")
            raise
        self._metrics.round_done(decided)
        return decided

    async def open_stream(
        self,
        kind: Kind,
        request: SamplingFields,
        target: Target,
        messages: Sequence[tuple[str, str]],
        form: AnswerForm = PLAIN_FORM,
    ) -> tuple[str, AsyncIterator[str]]:
        """Starts the round and returns the round id and the SSE body — but only once some
        participant is producing text (or the round is decided). Until then a refusal
        (busy agents: 429, bad request: 400) is still a plain HTTP error: a client never
        gets a 200 stream that then fails for a reason known up front."""
        round_id, items = await self.open_round(round_spec(request, target, messages, form))
        lines = self._sse(kind, request, target, round_id, items, live=not form.shaped)
        return round_id, keep_alive(lines, self._settings.keepalive_s, KEEPALIVE_COMMENT)

    async def open_round(self, spec: RoundSpec) -> tuple[str, AsyncIterator[RoundEvent]]:
        """Starts the round; returns its id and all its events (RoundStarted first) once some
        participant is producing text or the round is decided — every door's stream
        opens here, so a refusal known up front is a plain HTTP error on all of them."""
        items = self._leader.run_round(spec, timeout=self._settings.request_timeout_s)
        try:
            first = await anext(items)
            if not isinstance(first, RoundStarted):
                raise Unavailable("the leader did not open the round")
            early: list[RoundEvent] = []
            while not early or not isinstance(early[-1], CandidateText | RoundDecided):
                early.append(await anext(items))
        except BaseException as error:
            await items.aclose()
            if isinstance(error, Overloaded):
                self._metrics.refusal("agents_busy")
            raise
        return first.round_id, _prepend([first, *early], items)

    def round_done(self, record: RoundRecord) -> None:
        """A streamed round is decided: counted once, whichever door streamed it."""
        self._metrics.round_done(record)

    def stream_error(self, error: ConclaveError, shape: Shaper) -> dict[str, Any]:
        """An error after the headers went out: mapped by the one table, counted, and
        shaped for the door that sends it in-band."""
        mapped, body = error_body(error, shape, secrets_in(self._settings))
        self._metrics.error(mapped.status)
        return body

    async def _sse(
        self,
        kind: Kind,
        request: SamplingFields,
        target: Target,
        round_id: str,
        items: AsyncIterator[RoundEvent],
        *,
        live: bool = True,
    ) -> AsyncIterator[str]:
        """`live`: a direct round streams its text as it is generated; a structured one
        (JSON to canonicalize, a call to shape) streams its answer once it is read."""
        direct = target.participant is not None
        created = int(time.time())
        chunk_id = kind.id_prefix + round_id

        def chunk(
            index: int, text: str | None, finish: str | None, delta: dict | None = None
        ) -> str:
            choice: dict[str, Any] = {"index": index, "finish_reason": finish, "logprobs": None}
            if kind.chat and delta is not None:
                choice["delta"] = delta
            elif kind.chat:
                choice["delta"] = {} if text is None else {"role": "assistant", "content": text}
            else:
                choice["text"] = text or ""
            return _data(
                {
                    "id": chunk_id,
                    "object": kind.chunk_object,
                    "created": created,
                    "model": target.model,
                    "choices": [choice],
                }
            )

        try:
            decided = None
            async with contextlib.aclosing(items):
                async for item in items:
                    if isinstance(item, CandidateText) and direct and live and item.turn == 0:
                        if item.sample_index < request.n and item.text:
                            yield chunk(item.sample_index, item.text, None)
                    elif isinstance(item, RoundDecided):
                        decided = item.record
            assert decided is not None  # run_round ends with the decided round or raises
            self._metrics.round_done(decided)
            picked = choices(decided, n=request.n, direct=direct)
            for index, choice in enumerate(picked):
                reply = choice.get("reply")
                if kind.chat and reply is not None:
                    message = structured.message(reply, round_id=round_id, index=index)
                    if message.get("tool_calls"):
                        calls = [{"index": 0, **message["tool_calls"][0]}]
                        delta = {"role": "assistant", "content": None, "tool_calls": calls}
                    else:
                        delta = message
                    yield chunk(index, None, None, delta)
                elif not (direct and live):
                    yield chunk(index, choice["text"], None)
                yield chunk(index, None, choice["finish_reason"])
            if request.stream_options and request.stream_options.include_usage:
                yield _data(
                    {
                        "id": chunk_id,
                        "object": kind.chunk_object,
                        "created": created,
                        "model": target.model,
                        "choices": [],
                        "usage": usage(decided),
                        "conclave": extension(decided),
                    }
                )
        except ConclaveError as error:
            # Headers are sent: the error goes in-band, then the stream ends properly.
            mapped, body = error_body(error, known_secrets=secrets_in(self._settings))
            self._metrics.error(mapped.status)
            yield _data(body)
        yield "data: [DONE]\n\n"


async def _prepend(
    first: list[RoundEvent], rest: AsyncIterator[RoundEvent]
) -> AsyncIterator[RoundEvent]:
    for item in first:
        yield item
    async for item in rest:
        yield item


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def keep_alive(lines: AsyncIterator[str], every_s: float, comment: str) -> AsyncIterator[str]:
    """The stream's lines, and `comment` whenever `every_s` passes without a line *sent*.
    The timer runs on what the client receives, not on the round's events: a strategy
    stream drops the participants' token pieces, and those must not count as signs of
    life to a proxy with an idle timeout (a 13 s debate once sent nothing for 13 s)."""
    async for line in with_keepalive(lines, every_s):
        yield comment if line is None else line


async def with_keepalive(items: AsyncIterator[T], every_s: float) -> AsyncIterator[T | None]:
    """Yields the items, and None whenever `every_s` passes without one."""
    pending = asyncio.ensure_future(anext(items))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=every_s)
            if not done:
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            yield item
            pending = asyncio.ensure_future(anext(items))
    finally:
        # The generator may be suspended inside the pending step: end that step first,
        # then close the generator (which cancels the leader call).
        pending.cancel()
        with contextlib.suppress(BaseException):
            await pending
        await items.aclose()
