"""Checks a generation request against the service's limits before any work is queued.

Every message names the field and its bounds, because the person reading it is usually
looking at a request they wrote by hand (grpcurl, curl, a config file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from conclave.errors import InvalidRequest
from conclave.services.engine.types import ROLES, GenerationRequest

MAX_STOP_STRINGS = 8
MAX_STOP_LENGTH = 128
MAX_CONSTRAINT_CHARS = 65_536  # a grammar or a schema; real ones are a few KiB
MAX_MARKER_LENGTH = 64
MAX_SEED = 2**32 - 2  # 2**32 - 1 is llama.cpp's "random seed" marker


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_n: int
    context_per_slot: int
    max_prompt_chars: int = 1_000_000


def validate_generation(request: GenerationRequest, limits: RequestLimits) -> None:
    _check_input(request, limits)
    s = request.sampling
    if not 1 <= request.n <= limits.max_n:
        raise InvalidRequest(f"n must be between 1 and {limits.max_n}, got {request.n}", field="n")
    if not 1 <= s.max_tokens <= limits.context_per_slot:
        raise InvalidRequest(
            f"max_tokens must be between 1 and the slot context {limits.context_per_slot}, "
            f"got {s.max_tokens}",
            field="max_tokens",
        )
    _check_range("temperature", s.temperature, 0.0, 2.0)
    _check_range("top_p", s.top_p, 0.0, 1.0, low_open=True)
    _check_range("min_p", s.min_p, 0.0, 1.0)
    _check_range("repeat_penalty", s.repeat_penalty, 0.0, 10.0, low_open=True)
    if s.top_k < 0:
        raise InvalidRequest(f"top_k must be >= 0 (0 disables it), got {s.top_k}", field="top_k")
    if s.seed is not None and not 0 <= s.seed <= MAX_SEED:
        raise InvalidRequest(f"seed must be between 0 and {MAX_SEED}, got {s.seed}", field="seed")
    if len(s.stop) > MAX_STOP_STRINGS:
        raise InvalidRequest(
            f"at most {MAX_STOP_STRINGS} stop strings, got {len(s.stop)}", field="stop"
        )
    for text in s.stop:
        if not text or len(text) > MAX_STOP_LENGTH:
            raise InvalidRequest(
                f"each stop string must have 1 to {MAX_STOP_LENGTH} characters", field="stop"
            )
    _check_constraint(request)


def _check_constraint(request: GenerationRequest) -> None:
    """The shape of a constraint; whether its grammar parses is the engine's to say."""
    c = request.constraint
    if c.grammar and c.json_schema:
        raise InvalidRequest("give at most one of grammar and json_schema", field="grammar")
    for name, value in (("grammar", c.grammar), ("json_schema", c.json_schema)):
        if len(value) > MAX_CONSTRAINT_CHARS:
            raise InvalidRequest(
                f"{name} has {len(value)} characters; at most {MAX_CONSTRAINT_CHARS}", field=name
            )
    if not c.active:
        if c.after:
            raise InvalidRequest(
                "constrain_after needs a grammar or a json_schema", field="constrain_after"
            )
        if c.allow_text:
            raise InvalidRequest("allow_text needs a grammar or a json_schema", field="allow_text")
        return
    one_line = "\n" not in c.after and "\r" not in c.after
    if c.after and (len(c.after) > MAX_MARKER_LENGTH or not c.after.strip() or not one_line):
        raise InvalidRequest(
            f"constrain_after must be 1 to {MAX_MARKER_LENGTH} characters on one line",
            field="constrain_after",
        )
    if request.sampling.ignore_eos:
        # A complete grammar allows only the end token; banning it would leave nothing.
        raise InvalidRequest("ignore_eos cannot be combined with a grammar", field="ignore_eos")


def _check_input(request: GenerationRequest, limits: RequestLimits) -> None:
    if request.messages and request.prompt:
        raise InvalidRequest("give either messages or prompt, not both", field="messages")
    if not request.messages and not request.prompt:
        raise InvalidRequest("messages must not be empty (or give a prompt)", field="messages")
    total_chars = len(request.prompt or "")
    for i, message in enumerate(request.messages):
        if message.role not in ROLES:
            raise InvalidRequest(
                f"messages[{i}].role must be one of {', '.join(ROLES)}, got {message.role!r}",
                field=f"messages[{i}].role",
            )
        total_chars += len(message.content)
    if request.messages and request.messages[-1].role == "assistant":
        # A trailing assistant turn would be continued, not answered; nothing asks for that.
        raise InvalidRequest("the last message must not be from the assistant", field="messages")
    if total_chars > limits.max_prompt_chars:
        raise InvalidRequest(
            f"the prompt has {total_chars} characters, more than the {limits.max_prompt_chars} "
            "this service accepts",
            field="messages",
        )


def _check_range(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    ok = math.isfinite(value) and (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise InvalidRequest(f"{name} must be in {bracket}{low}, {high}], got {value}", field=name)
