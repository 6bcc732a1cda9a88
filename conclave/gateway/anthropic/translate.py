"""A Messages request -> the round request every door makes; a decided round -> an
Anthropic `message`.

The request is checked for what Conclave cannot honour (each refused by name), then
carried in the OpenAI door's `SamplingFields`, so `completions.check_limits` and
`completions.round_spec` — the one path into a round — apply unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conclave.errors import InvalidRequest, Unavailable
from conclave.gateway import catalog
from conclave.gateway.anthropic.protocol import MessagesRequest, PromptFields, TextBlock
from conclave.gateway.catalog import Target
from conclave.gateway.completions import MAX_STOP, choices, extension, usage
from conclave.gateway.protocol import ConclaveOptions, SamplingFields
from conclave.gateway.strict import refuse_extras
from conclave.leader.types import RoundRecord

API = "anthropic"
TOOLS_LATER = (
    "tools and JSON output come with Conclave's structured answers; "
    "until then the Messages door answers in text"
)
UNSUPPORTED = {
    "tool_choice": TOOLS_LATER,
    "thinking": "the agents do not think out loud separately from their answer",
    "top_k": "a round samples with temperature and top_p only",
    "service_tier": "every request is served by the same swarm",
    "container": "Conclave runs no code containers",
    "mcp_servers": "the agents call no tools",
    "output_format": TOOLS_LATER,
    "output_config": TOOLS_LATER,
    "context_management": "Conclave does not edit a conversation's context",
    "diagnostics": "the agents' prompt caches report no miss reasons",
    "inference_geo": "the swarm runs where its agents are",
    "speed": "the swarm has one speed",
    "user_profile_id": "Conclave has no user profiles; metadata.user_id labels a request",
    "workspace_id": "Conclave has no workspaces",
}
BLOCK_UNSUPPORTED = {"citations": "text is answered without citations"}
# An Anthropic stop reason for each finish reason a round's answer can have.
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


def prompt_messages(request: PromptFields) -> list[tuple[str, str]]:
    """The conversation as (role, text) turns, `system` first; refuses what it cannot read."""
    refuse_extras(request, UNSUPPORTED)
    if request.tools:
        raise InvalidRequest(f"tools is not supported: {TOOLS_LATER}", field="tools")
    turns: list[tuple[str, str]] = []
    if request.system is not None:
        system = _text(request.system, "system")
        if system.strip():
            turns.append(("system", system))
    if request.cache_control is not None:
        refuse_extras(request.cache_control, {}, "cache_control")
    for i, message in enumerate(request.messages):
        refuse_extras(message, {}, f"messages.{i}")
        text = _text(message.content, f"messages.{i}.content")
        if turns and turns[-1][0] == message.role:
            # Anthropic combines consecutive turns of one role into a single turn.
            turns[-1] = (message.role, f"{turns[-1][1]}\n\n{text}")
        else:
            turns.append((message.role, text))
    return turns


def translate(request: MessagesRequest) -> tuple[Target, SamplingFields, list[tuple[str, str]]]:
    turns = prompt_messages(request)
    if turns[-1][0] == "assistant":
        # Anthropic continues a final assistant turn in place; a round would answer it
        # with a new turn instead, which is a different reply: refused, not bent.
        raise InvalidRequest(
            "a final assistant turn (a prefill to continue) is not supported; "
            "end the messages with a user turn",
            field=f"messages.{len(request.messages) - 1}",
        )
    stops = request.stop_sequences or []
    if len(stops) > MAX_STOP or not all(stops):
        raise InvalidRequest(
            f"stop_sequences takes at most {MAX_STOP} non-empty strings", field="stop_sequences"
        )
    target = catalog.resolve(request.model)
    user = request.metadata.user_id if request.metadata else None
    if request.metadata:
        refuse_extras(request.metadata, {}, "metadata")
    options = (request.conclave or ConclaveOptions()).tagged({"api": API})
    fields = SamplingFields(
        model=request.model,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stop=request.stop_sequences,
        stream=request.stream,
        user=user,
        conclave=options,
    )
    return target, fields, turns


def answer_of(record: RoundRecord, target: Target) -> tuple[str, str]:
    """The reply's text and Anthropic stop reason: the round's choice 0 (the winner, or
    the participant's sample for agent/<name>)."""
    picked = choices(record, n=1, direct=target.participant is not None)
    if not picked:
        raise Unavailable(f"round {record.id} produced no answer")
    return picked[0]["text"], STOP_REASONS.get(picked[0]["finish_reason"], "end_turn")


def message_id(round_id: str) -> str:
    return "msg_" + round_id


def usage_of(record: RoundRecord) -> dict[str, int]:
    """Every token the round spent, as on the OpenAI door: the swarm's real cost. As
    Anthropic counts them, prompt tokens read from a cache are apart: `input_tokens` are
    the others, and the three input counts add up to the prompt (nothing is ever written
    to a cache on request: every agent keeps prefixes by itself)."""
    spent = usage(record)
    cached = spent["prompt_tokens_details"]["cached_tokens"]
    return {
        "input_tokens": spent["prompt_tokens"] - cached,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": spent["completion_tokens"],
    }


def message_body(record: RoundRecord, target: Target) -> dict[str, Any]:
    text, stop_reason = answer_of(record, target)
    return {
        "id": message_id(record.id),
        "type": "message",
        "role": "assistant",
        "model": target.model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        # Agents report that a sample stopped, not whether a stop sequence or the
        # end-of-turn token stopped it (docs/gateway.md).
        "stop_sequence": None,
        "usage": usage_of(record),
        "conclave": extension(record),
    }


def _text(content: str | Sequence[TextBlock], where: str) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for j, block in enumerate(content):
        if block.type != "text":
            raise InvalidRequest(
                f"{where}.{j}.type '{block.type}' is not supported: the agents read text "
                f"blocks only ({TOOLS_LATER})",
                field=f"{where}.{j}.type",
            )
        refuse_extras(block, BLOCK_UNSUPPORTED, f"{where}.{j}")
        if block.cache_control is not None:
            refuse_extras(block.cache_control, {}, f"{where}.{j}.cache_control")
        parts.append(block.text)
    return "".join(parts)  # as the OpenAI door joins a message's text parts
