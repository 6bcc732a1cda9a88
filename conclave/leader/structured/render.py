"""Every text a voice reads about structured answers, in one place: the instructions of a
response format or of tools, the tools' catalog, and how the turns of a tool-using
conversation (an assistant's calls, a tool's results) read in a transcript.

Chat formats know only system, user and assistant turns (the bundled base model reads a
"User:" / "Assistant:" transcript; a GGUF template may know no tool role at all), so a
call is written as the assistant turn it would be — the JSON object a voice emits to
call, `{"name": ..., "arguments": {...}}` — and a tool's result as a user turn that says
whose result it is. A voice then sees its own kind of answer in the history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conclave.leader.types import ToolDefinition
from conclave.leader.voting.extract import ANSWER_MARKER

CALL_SHAPE = '{"name": "<tool name>", "arguments": {<its arguments>}}'
RESPONSE_KEY = "response"
RESPONSE_SHAPE = f'{{"{RESPONSE_KEY}": "<your answer>"}}'
REASON_FIRST = (
    "First think the question through in one short paragraph. Then, on a new line, "
    f'write "{ANSWER_MARKER}" followed by {{answer}}.'
)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def schema_instructions(schema: dict[str, Any] | None, *, reason_first: bool) -> str:
    """What a voice reads when it must answer JSON (`schema` None: any JSON object)."""
    shape = (
        "one JSON object"
        if schema is None
        else f"one JSON value matching this JSON Schema: {compact(schema)}"
    )
    if reason_first:
        return REASON_FIRST.format(answer=f"your final answer as {shape}")
    return f"Answer with JSON only: {shape}."


def tool_catalog(tools: Sequence[ToolDefinition], parameters: Sequence[dict[str, Any]]) -> str:
    lines = []
    for tool, schema in zip(tools, parameters, strict=True):
        about = f": {tool.description.strip()}" if tool.description.strip() else ""
        lines.append(f"- {tool.name}{about} Arguments (JSON Schema): {compact(schema)}")
    return "\n".join(lines)


def tool_instructions(
    tools: Sequence[ToolDefinition],
    parameters: Sequence[dict[str, Any]],
    *,
    choice: str,
    reason_first: bool,
) -> str:
    """`choice`: "auto", "required", or the name of the tool whose call is forced."""
    catalog = tool_catalog(tools, parameters)
    if choice == "auto":
        head = f"You can call one of these tools:\n{catalog}\n"
        answer = f"either a tool call, a JSON object {CALL_SHAPE}, or {RESPONSE_SHAPE}"
        direct = (
            f"To call a tool, reply with only a JSON object {CALL_SHAPE}. "
            f"If no tool is needed, reply with {RESPONSE_SHAPE}."
        )
    else:
        forced = "one of these tools" if choice == "required" else f"the tool {choice}"
        head = f"You must call {forced}:\n{catalog}\n"
        answer = f"the tool call, a JSON object {CALL_SHAPE}"
        direct = f"Reply with only a JSON object {CALL_SHAPE}."
    return head + (REASON_FIRST.format(answer=answer) if reason_first else direct)


def critique_form(*, json_answer: bool, choice: str) -> str:
    """How a critique or aggregation turn asks for the revised answer under a grammar."""
    if json_answer:
        return "as JSON in the same form"
    if choice == "auto":
        return f"either a tool call as a JSON object {CALL_SHAPE} or {RESPONSE_SHAPE}"
    return f"a tool call as a JSON object {CALL_SHAPE}"


def call_text(name: str, arguments: str) -> str:
    """An assistant's tool call as the assistant turn a voice would write for it.
    `arguments` is JSON text (OpenAI sends it as a string); text that is not JSON is
    kept as a string, so nothing the client sent is lost."""
    try:
        parsed: Any = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        parsed = arguments
    return compact({"name": name, "arguments": parsed})


def tool_result_text(name: str, content: str) -> str:
    """A tool's result as the user turn that brings it back."""
    who = f"the tool {name}" if name else "the tool"
    return f"Result of {who}: {content.strip()}"
