"""OpenAI's structured output and tools, translated both ways.

In: `response_format`, `tools`, `tool_choice` and `parallel_tool_calls` become the
round's answer form (`ResponseFormat`, `ToolDefinition`s, a tool choice string), checked
by the leader's own rules (`OutputSpec.of`) before the round starts, so a bad schema or
tool is a 400 naming the request's field. A history with assistant `tool_calls` and
`role: tool` results is rendered as the turns a voice reads (`structured.render`).

Out: each chosen candidate is read under the round's spec: a JSON answer's content is its
canonical JSON (after the marker, for reason-first; the reasoning goes to
`reasoning_content`), a tool call becomes `message.tool_calls` with `finish_reason:
tool_calls`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conclave.errors import InvalidRequest
from conclave.gateway.protocol import (
    ChatCompletionRequest,
    ChatMessage,
    JsonObjectFormat,
    JsonSchemaResponseFormat,
    NamedToolChoice,
)
from conclave.leader.structured import OutputSpec, Reply
from conclave.leader.structured.render import call_text, tool_result_text
from conclave.leader.types import TEXT_FORMAT, ResponseFormat, RoundRequest, ToolDefinition

# The leader's names of a field -> the names a client sent it under.
_FIELDS = {
    "response_format.schema": "response_format.json_schema.schema",
    "response_format.type": "response_format.type",
}


@dataclass(frozen=True, slots=True)
class AnswerForm:
    response_format: ResponseFormat = TEXT_FORMAT
    tools: tuple[ToolDefinition, ...] = ()
    tool_choice: str = ""

    @property
    def shaped(self) -> bool:
        """Whether answers are read before a client sees them (JSON or tool calls)."""
        calls = bool(self.tools) and self.tool_choice != "none"
        return self.response_format.type != "text" or calls


PLAIN_FORM = AnswerForm()


def answer_form(request: ChatCompletionRequest) -> AnswerForm:
    fmt = TEXT_FORMAT
    given = request.response_format
    if isinstance(given, JsonObjectFormat):
        fmt = ResponseFormat("json_object")
    elif isinstance(given, JsonSchemaResponseFormat):
        spec = given.json_schema
        fmt = ResponseFormat("json_schema", json.dumps(spec.schema_), spec.name, bool(spec.strict))
    tools = tuple(
        ToolDefinition(
            name=t.function.name,
            description=t.function.description or "",
            parameters=json.dumps(t.function.parameters) if t.function.parameters else "",
            strict=bool(t.function.strict),
        )
        for t in request.tools or ()
    )
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        tool_choice = f"function:{choice.function.name}"
    else:
        tool_choice = choice or ""
    if tool_choice and tool_choice != "none" and not tools:
        raise InvalidRequest(f"tool_choice {tool_choice!r} needs tools", field="tool_choice")
    if request.parallel_tool_calls is not None and not tools:
        raise InvalidRequest("parallel_tool_calls needs tools", field="parallel_tool_calls")
    return AnswerForm(fmt, tools, tool_choice)


def check(form: AnswerForm, messages: Sequence[tuple[str, str]], params: dict[str, str]) -> None:
    """The leader's checks, here, so a refusal names the field the client sent."""
    try:
        OutputSpec.of(
            RoundRequest(
                messages=tuple(messages),
                response_format=form.response_format,
                tools=form.tools,
                tool_choice=form.tool_choice,
                params=params,
            )
        )
    except InvalidRequest as error:
        field = error.field or ""
        if field in _FIELDS:
            raise InvalidRequest(str(error), field=_FIELDS[field]) from None
        raise


def render_messages(messages: Sequence[ChatMessage]) -> list[tuple[str, str]]:
    """(role, content) turns for the voices: developer is system; an assistant's calls
    and a tool's results read as the turns `structured.render` writes for them."""
    names: dict[str, str] = {}  # tool call id -> function name
    out: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        if m.role == "developer":
            out.append(("system", m.text()))
        elif m.role == "assistant" and m.tool_calls:
            parts = [m.text()] if m.text().strip() else []
            for call in m.tool_calls:
                names[call.id] = call.function.name
                parts.append(call_text(call.function.name, call.function.arguments))
            out.append(("assistant", "\n".join(parts)))
        elif m.role == "tool":
            if m.tool_call_id not in names:
                raise InvalidRequest(
                    f"messages[{i}].tool_call_id {m.tool_call_id!r} answers no earlier "
                    "assistant tool call",
                    field=f"messages[{i}].tool_call_id",
                )
            out.append(("user", tool_result_text(names[m.tool_call_id], m.text())))
        else:
            out.append((m.role, m.text()))
    return out


def call_id(round_id: str, index: int) -> str:
    return f"call_{round_id}_{index}"


def message(reply: Reply, *, round_id: str, index: int) -> dict[str, Any]:
    """The assistant message of one choice read under its round's spec."""
    if reply.kind == "tool_call" and reply.valid:
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [tool_call(reply, round_id=round_id, index=index)],
        }
    body: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning:
        body["reasoning_content"] = reply.reasoning
    return body


def tool_call(reply: Reply, *, round_id: str, index: int) -> dict[str, Any]:
    return {
        "id": call_id(round_id, index),
        "type": "function",
        "function": {"name": reply.tool, "arguments": reply.arguments},
    }
