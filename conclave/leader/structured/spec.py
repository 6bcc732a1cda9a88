"""What a round's voices must answer: plain text, JSON under a schema, or a tool call.

One `OutputSpec` per round, made from its request by `OutputSpec.of` (every problem an
InvalidRequest naming its field, before any voice is asked). It gives
- the `constraint` every generation of the round decodes under (the agent's grammar),
- the `instructions` the voices read (texts in `render.py`),
- how a reply reads (`read`): a `Reply` with its kind, the content a client gets,
  the reasoning before a reason-first marker, a call's tool and arguments, and whether
  it is a valid answer at all. Invalid replies (cut off by max_tokens, or outside a
  strict schema) do not vote.

Params: `answer_format` = `direct` (default: the whole reply is the answer) or
`reason_first` (one paragraph of free text, then "Answer:" and the constrained answer;
only with a JSON response format or tools).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from conclave.errors import InvalidRequest
from conclave.leader.structured import render
from conclave.leader.structured.schemas import (
    NO_ARGUMENTS,
    Validate,
    call_envelope,
    load_schema,
    validator,
)
from conclave.leader.types import Candidate, ResponseFormat, RoundRequest, ToolDefinition
from conclave.leader.voting.canonical import NO_VALUE, canonical, parse_json
from conclave.leader.voting.extract import ANSWER_MARKER, split_reasoning
from conclave.services.engine.types import NO_CONSTRAINT, Constraint

FORMAT_TYPES = ("text", "json_object", "json_schema")
ANSWER_FORMATS = ("direct", "reason_first")
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TOOLS = 64
FUNCTION_PREFIX = "function:"
RESPONSE_KEY = render.RESPONSE_KEY  # tool_choice auto: a plain answer, as JSON
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {RESPONSE_KEY: {"type": "string"}},
    "required": [RESPONSE_KEY],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply read under a round's spec."""

    kind: str  # "text" | "json" | "tool_call"
    content: str  # what a client gets: the text, or the JSON answer as canonical JSON
    reasoning: str = ""  # the free text before a reason-first marker
    tool: str = ""  # tool_call: the tool's name
    arguments: str = ""  # tool_call: the arguments as canonical JSON
    problem: str = ""  # why it is not a valid answer; "" when it is

    @property
    def valid(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class OutputSpec:
    response_format: ResponseFormat = field(default_factory=ResponseFormat)
    tools: tuple[ToolDefinition, ...] = ()
    choice: str = "none"  # "none" | "auto" | "required" | "function" (forced_tool's)
    forced_tool: str = ""
    reason_first: bool = False
    schema: dict[str, Any] | None = None  # json_schema's, parsed
    parameters: tuple[dict[str, Any], ...] = ()  # each tool's, parsed
    _validate: Validate | None = None  # strict json_schema: the answer's whole check
    _tool_checks: dict[str, Validate] = field(default_factory=dict)  # strict tools

    # ---- made from a request ------------------------------------------------------------

    @classmethod
    def of(cls, request: RoundRequest) -> OutputSpec:
        fmt = request.response_format
        if fmt.type not in FORMAT_TYPES:
            raise InvalidRequest(
                f"response_format.type must be one of {', '.join(FORMAT_TYPES)}, got {fmt.type!r}",
                field="response_format.type",
            )
        schema = None
        if fmt.type == "json_schema":
            if not fmt.schema:
                raise InvalidRequest(
                    "response_format json_schema needs a schema", field="response_format.schema"
                )
            schema = load_schema(fmt.schema, "response_format.schema")
        elif fmt.schema:
            raise InvalidRequest(
                f"response_format {fmt.type} takes no schema", field="response_format.schema"
            )
        parameters = tuple(_parameters(i, t) for i, t in enumerate(_checked_tools(request.tools)))
        choice, forced_tool = _choice(request.tool_choice, request.tools)
        answer_format = request.params.get("answer_format") or "direct"
        if answer_format not in ANSWER_FORMATS:
            raise InvalidRequest(
                f"params.answer_format must be one of {', '.join(ANSWER_FORMATS)}, "
                f"got {answer_format!r}",
                field="params.answer_format",
            )
        if fmt.type != "text" and choice != "none":
            raise InvalidRequest(
                "a JSON response_format together with tools is not supported: give one, "
                'or set tool_choice "none"',
                field="response_format",
            )
        reason_first = answer_format == "reason_first"
        if reason_first and fmt.type == "text" and choice == "none":
            raise InvalidRequest(
                "params.answer_format reason_first needs a JSON response_format or tools",
                field="params.answer_format",
            )
        strict_tools = {
            t.name: validator(p) for t, p in zip(request.tools, parameters, strict=True) if t.strict
        }
        return cls(
            response_format=fmt,
            tools=request.tools,
            choice=choice,
            forced_tool=forced_tool,
            reason_first=reason_first,
            schema=schema,
            parameters=parameters,
            _validate=validator(schema) if schema is not None and fmt.strict else None,
            _tool_checks=strict_tools,
        )

    # ---- what the voices get ------------------------------------------------------------

    @property
    def json_answer(self) -> bool:
        return self.response_format.type != "text"

    @property
    def calls_tools(self) -> bool:
        return self.choice != "none"

    @property
    def structured(self) -> bool:
        """Whether the voices answer under a grammar (and vote on canonical values)."""
        return self.json_answer or self.calls_tools

    def constraint(self) -> Constraint:
        if not self.structured:
            return NO_CONSTRAINT
        after = ANSWER_MARKER if self.reason_first else ""
        if self.json_answer:
            schema = self.schema if self.schema is not None else {"type": "object"}
            return Constraint(json_schema=_dumps(schema), after=after)
        offered = [
            (t.name, p)
            for t, p in zip(self.tools, self.parameters, strict=True)
            if self.choice in ("auto", "required") or t.name == self.forced_tool
        ]
        envelope = call_envelope(offered)
        if self.choice == "auto":
            # A plain answer is JSON too, `{"response": "..."}` (llama.cpp's generic tool
            # format): a small model then picks a call or an answer by the key it writes,
            # right after the catalog, instead of by its first free token.
            defs = envelope.pop("$defs", None)
            options = envelope.get("anyOf", [envelope])
            envelope = {"anyOf": [*options, RESPONSE_SCHEMA]}
            if defs:
                envelope["$defs"] = defs
        return Constraint(json_schema=_dumps(envelope), after=after)

    def instructions(self) -> str:
        """The system text that tells the voices the answer's form ("" for plain text)."""
        if self.json_answer:
            return render.schema_instructions(self.schema, reason_first=self.reason_first)
        if self.calls_tools:
            return render.tool_instructions(
                self.tools,
                self.parameters,
                choice=self.forced_tool or self.choice,
                reason_first=self.reason_first,
            )
        return ""

    def critique_form(self) -> str | None:
        """How critique and aggregation turns ask for the revised answer; None for plain
        text and reason-first, whose prompts already end with an "Answer:" line."""
        if not self.structured or self.reason_first:
            return None
        return render.critique_form(json_answer=self.json_answer, choice=self.choice)

    # ---- reading replies ----------------------------------------------------------------

    def read(self, text: str) -> Reply:
        if not self.structured:
            return Reply("text", text)
        reasoning, answer = "", text.strip()
        if self.reason_first:
            if not (text.startswith(ANSWER_MARKER) or f"\n{ANSWER_MARKER}" in text):
                return Reply("text", text, problem=f'no "{ANSWER_MARKER}" line: the reply was cut')
            reasoning, answer = split_reasoning(text)
        if self.json_answer:
            return self._read_json(answer, reasoning)
        return self._read_call(answer, reasoning)

    def _read_json(self, answer: str, reasoning: str) -> Reply:
        value = parse_json(answer)
        if value is NO_VALUE:
            return Reply("json", answer, reasoning, problem="not one JSON value (cut off?)")
        problem = ""
        if self.response_format.type == "json_object" and not isinstance(value, dict):
            problem = "not a JSON object"
        elif self._validate is not None:
            problem = self._validate(value)
        return Reply("json", canonical(value), reasoning, problem=problem)

    def _read_call(self, answer: str, reasoning: str) -> Reply:
        if not answer.startswith("{"):
            if self.choice == "auto":
                return Reply("text", answer, reasoning)
            return Reply("text", answer, reasoning, problem="no tool call, and one is required")
        value = parse_json(answer)
        if isinstance(value, dict) and set(value) == {RESPONSE_KEY}:
            text = value[RESPONSE_KEY]
            if self.choice != "auto" or not isinstance(text, str):
                return Reply("text", answer, reasoning, problem="no tool call, and one is required")
            return Reply("text", text, reasoning)
        if not isinstance(value, dict) or not isinstance(value.get("arguments"), dict):
            return Reply("tool_call", answer, reasoning, problem="not a whole tool call (cut off?)")
        name = value.get("name")
        if name not in {t.name for t in self.tools}:
            return Reply("tool_call", answer, reasoning, problem=f"no tool named {name!r}")
        arguments = value["arguments"]
        check = self._tool_checks.get(name)
        problem = check(arguments) if check is not None else ""
        return Reply(
            "tool_call",
            canonical(value),
            reasoning,
            tool=name,
            arguments=canonical(arguments),
            problem=problem,
        )

    def votable(self, candidate: Candidate) -> bool:
        return candidate.ok and (not self.structured or self.read(candidate.text).valid)

    def shown(self, text: str) -> str:
        """How an answer is shown to the other voices in critique and aggregation turns:
        a structured answer by its JSON (canonical), a plain one as written."""
        if not self.structured:
            return text
        reply = self.read(text)
        return reply.content if reply.valid else text.strip()


PLAIN = OutputSpec()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _checked_tools(tools: tuple[ToolDefinition, ...]) -> tuple[ToolDefinition, ...]:
    if len(tools) > MAX_TOOLS:
        raise InvalidRequest(f"at most {MAX_TOOLS} tools, got {len(tools)}", field="tools")
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if not TOOL_NAME.match(tool.name):
            raise InvalidRequest(
                f"tools[{i}].function.name must be 1-64 letters, digits, '_' or '-', "
                f"got {tool.name!r}",
                field=f"tools[{i}].function.name",
            )
        if tool.name in seen:
            raise InvalidRequest(
                f"tools[{i}]: a tool named {tool.name!r} is already given",
                field=f"tools[{i}].function.name",
            )
        seen.add(tool.name)
    return tools


def _parameters(index: int, tool: ToolDefinition) -> dict[str, Any]:
    if not tool.parameters:
        return dict(NO_ARGUMENTS)
    where = f"tools[{index}].function.parameters"
    schema = load_schema(tool.parameters, where)
    if schema.get("type", "object") != "object":
        raise InvalidRequest(f"{where} must describe an object (type object)", field=where)
    return schema


def _choice(raw: str, tools: tuple[ToolDefinition, ...]) -> tuple[str, str]:
    """(choice, forced tool's name)."""
    if raw.startswith(FUNCTION_PREFIX):
        name = raw[len(FUNCTION_PREFIX) :]
        if name not in {t.name for t in tools}:
            raise InvalidRequest(
                f"tool_choice names the function {name!r}, which is not among the tools",
                field="tool_choice",
            )
        return "function", name
    if raw in ("", "auto"):
        return ("auto" if tools else "none"), ""
    if raw == "none":
        return "none", ""
    if raw == "required":
        if not tools:
            raise InvalidRequest("tool_choice required needs tools", field="tool_choice")
        return "required", ""
    raise InvalidRequest(
        f'tool_choice must be "auto", "none", "required" or a function, got {raw!r}',
        field="tool_choice",
    )
