"""`conclave agent call`: stream one agent's answer to the terminal, for debugging."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import grpc

from conclave.swarm_security import NO_SECURITY, SwarmSecurity
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc


def build_request(
    prompt: str,
    *,
    system: str | None,
    raw: bool,
    max_tokens: int | None,
    temperature: float | None,
    seed: int | None,
    n: int,
    grammar: str | None = None,
    json_schema: str | None = None,
    constrain_after: str | None = None,
    allow_text: bool = False,
) -> pb.GenerateRequest:
    """A GenerateRequest; `grammar` and `json_schema` are the text itself or `@FILE`."""
    request = pb.GenerateRequest(
        n=n,
        grammar=_text_or_file(grammar),
        json_schema=_text_or_file(json_schema),
        constrain_after=constrain_after or "",
        allow_text=allow_text,
    )
    if raw:
        request.prompt = prompt
    else:
        if system:
            request.messages.add(role="system", content=system)
        request.messages.add(role="user", content=prompt)
    if max_tokens is not None:
        request.max_tokens = max_tokens
    if temperature is not None:
        request.temperature = temperature
    if seed is not None:
        request.seed = seed
    return request


def _text_or_file(value: str | None) -> str:
    if value and value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8")
    return value or ""


def call_agent(
    address: str,
    request: pb.GenerateRequest,
    *,
    timeout: float,
    security: SwarmSecurity = NO_SECURITY,
    out: TextIO = sys.stdout,
) -> int:
    """Prints sample 0's tokens as they arrive (other samples at their end); returns the
    exit code: 0, or 1 with the gRPC status on stderr."""
    finished: dict[int, pb.SampleFinished] = {}
    with security.channel(address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        try:
            for event in stub.Generate(request, timeout=timeout):
                kind = event.WhichOneof("event")
                if kind == "delta" and event.delta.index == 0:
                    out.write(event.delta.text)
                    out.flush()
                elif kind == "finished":
                    finished[event.finished.index] = event.finished
        except grpc.RpcError as error:
            sys.stderr.write(f"\nerror: {error.code().name}: {error.details()}\n")
            return 1
    out.write("\n")
    for index in sorted(finished):
        f = finished[index]
        if index:
            out.write(f"--- sample {index} ---\n{f.text}\n")
        reason = pb.FinishReason.Name(f.finish_reason).removeprefix("FINISH_REASON_").lower()
        sys.stderr.write(
            f"[sample {index}: {reason}, {f.usage.prompt_tokens} prompt + "
            f"{f.usage.completion_tokens} completion tokens, "
            f"first token {f.timings.time_to_first_token_ms:.0f} ms, "
            f"{f.timings.tokens_per_second:.1f} tok/s]\n"
        )
    return 0
