"""A Responses request -> the round request every door makes; a stored round -> a
Responses API `response`.

The request is checked for what Conclave cannot honour (each refused by name), then
carried in the OpenAI door's `SamplingFields`, so `completions.check_limits` and
`completions.round_spec` — the one path into a round — apply unchanged. The facts only
this API has travel as round tags (see the package docstring), so a response can be
rebuilt from its round alone, today or after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conclave.errors import InvalidRequest, NotFound
from conclave.gateway import catalog
from conclave.gateway.catalog import Target
from conclave.gateway.completions import choices, extension, usage
from conclave.gateway.protocol import ConclaveOptions, SamplingFields
from conclave.gateway.responses.protocol import ContentPart, ResponsesRequest
from conclave.gateway.strict import refuse_extras
from conclave.leader.types import RoundRecord, RoundSpec

API = "openai-responses"
RESPONSE_PREFIX = "resp_"
INSTRUCTIONS_TAG = "responses.instructions"  # "1": the round's first message is them
PREVIOUS_TAG = "responses.previous_response_id"
METADATA_PREFIX = "metadata."
TOOLS_LATER = (
    "tools and JSON output come with Conclave's structured answers; "
    "until then the Responses door answers in text"
)
UNSUPPORTED = {
    "tool_choice": TOOLS_LATER,
    "parallel_tool_calls": TOOLS_LATER,
    "max_tool_calls": TOOLS_LATER,
    "reasoning": "the agents do not reason separately from their answer",
    "include": "a response holds its text output only",
    "background": "a response is answered while the request waits or streams",
    "conversation": "continue with previous_response_id or with input items",
    "prompt": "prompt templates are not stored; send the text",
    "prompt_cache_key": "the agents cache prompt prefixes on their own",
    "prompt_cache_retention": "the agents cache prompt prefixes on their own",
    "service_tier": "every request is served by the same swarm",
    "top_logprobs": "rounds keep no token log-probabilities",
    "stream_options": "streams are sent as they are",
    "safety_identifier": "no safety system runs; use user or metadata to label requests",
}
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


def response_id(round_id: str) -> str:
    return RESPONSE_PREFIX + round_id


def round_id_of(response: str) -> str:
    """The round a response id names; NotFound when it names none."""
    if not response.startswith(RESPONSE_PREFIX) or len(response) <= len(RESPONSE_PREFIX):
        raise NotFound(f"no response with id '{response}'")
    return response[len(RESPONSE_PREFIX) :]


def check_stored(record: RoundRecord, response: str) -> RoundRecord:
    """A round is a response only if this door made it (its tags say how to read it)."""
    if record.request.tags.get("api") != API:
        raise NotFound(f"no response with id '{response}'")
    return record


def continued(record: RoundRecord, previous: str) -> list[tuple[str, str]]:
    """The conversation a follow-up continues: the earlier response's turns (its history
    included, its instructions not — they applied to it alone) and its answer."""
    answer = answer_of(record)
    if answer is None:
        raise InvalidRequest(
            f"previous_response_id '{previous}' has no answer to continue from "
            f"(its round is {record.status})",
            field="previous_response_id",
        )
    turns = list(record.request.messages)
    if record.request.tags.get(INSTRUCTIONS_TAG):
        turns = turns[1:]
    return [*turns, ("assistant", answer[0])]


def translate(
    request: ResponsesRequest, history: Sequence[tuple[str, str]], *, max_tokens_cap: int
) -> tuple[Target, SamplingFields, list[tuple[str, str]]]:
    _refuse_unsupported(request)
    limit = request.max_output_tokens
    if limit is not None and not 1 <= limit <= max_tokens_cap:
        raise InvalidRequest(
            f"max_output_tokens must be between 1 and {max_tokens_cap}, got {limit}",
            field="max_output_tokens",
        )
    target = catalog.resolve(request.model)
    tags: dict[str, str] = {"api": API}
    turns: list[tuple[str, str]] = []
    if request.instructions is not None and request.instructions.strip():
        turns.append(("system", request.instructions))
        tags[INSTRUCTIONS_TAG] = "1"
    turns += [*history, *_input_turns(request)]
    if request.previous_response_id is not None:
        tags[PREVIOUS_TAG] = request.previous_response_id
    for key, value in (request.metadata or {}).items():
        if len(key) > MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"metadata keys take at most {MAX_METADATA_KEY} characters and values "
                f"{MAX_METADATA_VALUE}",
                field=f"metadata.{key}",
            )
        tags[METADATA_PREFIX + key] = value
    options = (request.conclave or ConclaveOptions()).tagged(tags)
    fields = SamplingFields(
        model=request.model,
        max_completion_tokens=request.max_output_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stream=request.stream,
        user=request.user,
        conclave=options,
    )
    return target, fields, turns


def answer_of(record: RoundRecord) -> tuple[str, str] | None:
    """(text, finish reason) of the round's choice 0; None when it has no answer."""
    if record.status != "decided":
        return None
    direct = record.request.tags.get("model", "").startswith(catalog.AGENT_PREFIX)
    picked = choices(record, n=1, direct=direct)
    return (picked[0]["text"], picked[0]["finish_reason"]) if picked else None


def message_item(round_id: str, text: str, status: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_" + round_id,
        "status": status,
        "role": "assistant",
        "content": [output_text(text)] if status != "in_progress" else [],
    }


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def response_body(record: RoundRecord) -> dict[str, Any]:
    """The stored response: the same object POST returned, rebuilt from its round."""
    request = record.request
    answer = answer_of(record)
    if answer is None:
        status, output = "failed", []
        error = {"code": "server_error", "message": record.error or f"the round {record.status}"}
    else:
        text, finish = answer
        status = "incomplete" if finish == "length" else "completed"
        output, error = [message_item(record.id, text, status)], None
    spent = usage(record)
    return _envelope(
        round_id=record.id,
        created_at=record.created_at,
        status=status,
        tags=request.tags,
        instructions=request.messages[0][1] if request.tags.get(INSTRUCTIONS_TAG) else None,
        max_output_tokens=request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        output=output,
        error=error,
        usage={
            "input_tokens": spent["prompt_tokens"],
            "input_tokens_details": {
                "cached_tokens": spent["prompt_tokens_details"]["cached_tokens"]
            },
            "output_tokens": spent["completion_tokens"],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": spent["total_tokens"],
        },
        conclave=extension(record),
    )


def in_progress_body(spec: RoundSpec, round_id: str, created_at: float) -> dict[str, Any]:
    """The response as a stream first announces it: what was asked, no output yet (unset
    sampling fields are the leader's defaults, known once the round is decided)."""
    return _envelope(
        round_id=round_id,
        created_at=created_at,
        status="in_progress",
        tags=spec.tags,
        instructions=spec.messages[0][1] if spec.tags.get(INSTRUCTIONS_TAG) else None,
        max_output_tokens=spec.max_tokens,
        temperature=spec.temperature,
        top_p=spec.top_p,
        output=[],
        error=None,
        usage=None,
        conclave={"round_id": round_id},
    )


def _envelope(
    *,
    round_id: str,
    created_at: float,
    status: str,
    tags: Mapping[str, str],
    instructions: str | None,
    max_output_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    output: list[dict[str, Any]],
    error: dict[str, str] | None,
    usage: dict[str, Any] | None,
    conclave: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": response_id(round_id),
        "object": "response",
        "created_at": int(created_at),
        "status": status,
        "error": error,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": instructions,
        "max_output_tokens": max_output_tokens,
        "metadata": {
            k[len(METADATA_PREFIX) :]: v for k, v in tags.items() if k.startswith(METADATA_PREFIX)
        },
        "model": tags.get("model", ""),
        "output": output,
        "parallel_tool_calls": False,
        "previous_response_id": tags.get(PREVIOUS_TAG),
        "store": True,
        "temperature": temperature,
        "text": {"format": {"type": "text"}},
        "tool_choice": "none",
        "tools": [],
        "top_p": top_p,
        "truncation": "disabled",
        "usage": usage,
        "user": tags.get("user"),
        "conclave": conclave,
    }


def _refuse_unsupported(request: ResponsesRequest) -> None:
    refuse_extras(request, UNSUPPORTED)
    if request.tools:
        raise InvalidRequest(f"tools is not supported: {TOOLS_LATER}", field="tools")
    if not request.store:
        raise InvalidRequest(
            "store false is not supported: Conclave records every round (that is how "
            "votes stay open to inspection)",
            field="store",
        )
    if request.truncation == "auto":
        raise InvalidRequest(
            "truncation 'auto' is not supported: a conversation is never cut to fit; "
            "one too long for an agent's context is refused",
            field="truncation",
        )
    if request.text is not None:
        refuse_extras(request.text, {}, "text")
        if request.text.format is not None:
            if request.text.format.type != "text":
                raise InvalidRequest(
                    f"text.format.type '{request.text.format.type}' is not supported: "
                    f"{TOOLS_LATER}",
                    field="text.format.type",
                )
            refuse_extras(request.text.format, {}, "text.format")


def _input_turns(request: ResponsesRequest) -> list[tuple[str, str]]:
    if isinstance(request.input, str):
        return [("user", request.input)]
    turns = []
    for i, item in enumerate(request.input):
        where = f"input.{i}"
        if item.type != "message":
            raise InvalidRequest(
                f"{where}.type '{item.type}' is not supported: input items are messages "
                f"({TOOLS_LATER})",
                field=f"{where}.type",
            )
        refuse_extras(item, {}, where)
        if item.role is None or item.content is None:
            raise InvalidRequest(f"{where} needs a role and a content", field=where)
        role = "system" if item.role == "developer" else item.role
        turns.append((role, _text(item.content, f"{where}.content")))
    return turns


def _text(content: str | Sequence[ContentPart], where: str) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for j, part in enumerate(content):
        if part.type not in ("input_text", "output_text"):
            raise InvalidRequest(
                f"{where}.{j}.type '{part.type}' is not supported: the agents read text only",
                field=f"{where}.{j}.type",
            )
        refuse_extras(part, {}, f"{where}.{j}")
        parts.append(part.text)
    return "".join(parts)  # as the OpenAI door joins a message's text parts
