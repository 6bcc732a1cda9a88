"""Stream one 128-token generation through each kind of endpoint and time it.

Every consumer measures the same three instants (request issued, first token, end of the
stream) and checks that the whole MAX_TOKENS were generated, so no variant can look fast
by stopping early.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import grpc
import httpx

from bench.timing import StreamTiming
from bench.workload import MAX_TOKENS, BenchError
from conclave.services.engine.llama_engine import LlamaEngine
from conclave.services.engine.types import (
    Delta,
    Finished,
    FinishReason,
    GenerationRequest,
    SamplingParams,
)
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

STREAM_TIMEOUT_S = 120.0  # one 128-token stream, even at a few tokens per second


def checked(
    what: str,
    sent: float,
    first: float | None,
    end: float | None,
    tokens: int,
    complete: bool,
    expected: int = MAX_TOKENS,
) -> StreamTiming:
    """`complete`: the endpoint said it stopped at max_tokens (not at an end token)."""
    if first is None or end is None or not complete or tokens != expected:
        raise BenchError(
            f"{what}: the stream ended after {tokens} tokens (complete={complete}); "
            f"every run must generate exactly {expected}"
        )
    return StreamTiming(sent=sent, first=first, end=end, tokens=tokens)


# ---- Conclave: the agent service over gRPC, and the engine in-process ---------------------


def generate_request(prompt: str, max_tokens: int = MAX_TOKENS) -> pb.GenerateRequest:
    return pb.GenerateRequest(
        prompt=prompt, max_tokens=max_tokens, temperature=0.0, ignore_eos=True
    )


class _GrpcTally:
    """The instants and token count of one agent-service stream, event by event."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.sent = time.monotonic()
        self.first: float | None = None
        self.end: float | None = None
        self.tokens = 0
        self.complete = False

    def feed(self, event: pb.GenerateEvent) -> None:
        kind = event.WhichOneof("event")
        if kind == "delta":
            if self.first is None and event.delta.token_ids:
                self.first = time.monotonic()
            self.tokens += len(event.delta.token_ids)
        elif kind == "finished":
            self.end = time.monotonic()
            self.complete = event.finished.finish_reason == pb.FINISH_REASON_LENGTH

    def timing(self) -> StreamTiming:
        return checked(
            "agent service",
            self.sent,
            self.first,
            self.end,
            self.tokens,
            self.complete,
            self.max_tokens,
        )


def grpc_stream(stub: agent_pb2_grpc.AgentServiceStub, prompt: str) -> StreamTiming:
    """Synchronous client: the least client-side work between two tokens."""
    tally = _GrpcTally(MAX_TOKENS)
    for event in stub.Generate(generate_request(prompt), timeout=STREAM_TIMEOUT_S):
        tally.feed(event)
    return tally.timing()


async def grpc_stream_async(
    stub: agent_pb2_grpc.AgentServiceStub, prompt: str, max_tokens: int = MAX_TOKENS
) -> StreamTiming:
    """grpc.aio client, for many concurrent streams from one process."""
    tally = _GrpcTally(max_tokens)
    call = stub.Generate(generate_request(prompt, max_tokens), timeout=STREAM_TIMEOUT_S)
    async for event in call:
        tally.feed(event)
    return tally.timing()


def aio_channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address)


async def engine_stream(engine: LlamaEngine, prompt: str) -> StreamTiming:
    """Conclave's engine without the service around it."""
    request = GenerationRequest(
        request_id=uuid.uuid4().hex,
        prompt=prompt,
        sampling=SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0, ignore_eos=True),
    )
    first = end = None
    tokens = 0
    complete = False
    sent = time.monotonic()
    async for event in engine.generate(request):
        if isinstance(event, Delta):
            if first is None and event.token_ids:
                first = time.monotonic()
            tokens += len(event.token_ids)
        elif isinstance(event, Finished):
            end = time.monotonic()
            complete = event.reason is FinishReason.LENGTH
    return checked("engine", sent, first, end, tokens, complete)


# ---- llama-cpp-python: its OpenAI server over HTTP ----------------------------------------


def completion_body(prompt: str) -> dict[str, Any]:
    # The server's own default repeat_penalty is 1.1; Conclave's and Llama's are 1.0.
    return {
        "prompt": prompt,
        "max_tokens": MAX_TOKENS,
        "temperature": 0.0,
        "repeat_penalty": 1.0,
        "stream": True,
    }


async def openai_stream(client: httpx.AsyncClient, base_url: str, prompt: str) -> StreamTiming:
    """One streamed /v1/completions request (server-sent events)."""
    first = end = None
    chunks = 0
    complete = False
    sent = time.monotonic()
    async with client.stream(
        "POST",
        f"{base_url}/v1/completions",
        json=completion_body(prompt),
        timeout=STREAM_TIMEOUT_S,
    ) as response:
        if response.status_code != 200:
            body = (await response.aread()).decode(errors="replace")[:300]
            raise BenchError(f"llama_cpp.server answered {response.status_code}: {body}")
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue  # blank separators and ": ping" comments
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                break
            choice = json.loads(data)["choices"][0]
            if choice.get("text"):
                first = first or time.monotonic()
                chunks += 1
            if choice.get("finish_reason"):
                end = time.monotonic()
                complete = choice["finish_reason"] == "length"
    # One chunk per token, except bytes of a character held back: "length" is the count.
    tokens = MAX_TOKENS if complete else chunks
    return checked("llama_cpp.server", sent, first, end, tokens, complete)
