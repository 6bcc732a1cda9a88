"""JSON Schemas of structured answers: checked once, compiled to validators, and the
envelope schema of a tool call.

Pure Python (`jsonschema`): the leader checks what a client sent before any voice is
asked, and validates answers after generation where a grammar cannot hold a keyword
(`minimum`, `multipleOf`, ...; see `conclave.services.engine.json_grammar`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema

from conclave.errors import InvalidRequest

NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
MAX_SCHEMA_CHARS = 32_768

Validate = Callable[[Any], str]  # "" when the value matches, else what is wrong


def load_schema(text: str, field: str) -> dict[str, Any]:
    """A JSON Schema object from its JSON text, checked against its metaschema."""
    if len(text) > MAX_SCHEMA_CHARS:
        raise InvalidRequest(
            f"{field} has {len(text)} characters; at most {MAX_SCHEMA_CHARS}", field=field
        )
    try:
        schema = json.loads(text)
    except ValueError as error:
        raise InvalidRequest(f"{field} is not valid JSON: {error}", field=field) from None
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{field} must be a JSON Schema object", field=field)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        where = "/".join(str(p) for p in error.absolute_path)
        raise InvalidRequest(
            f"{field} is not a valid JSON Schema{f' at {where}' if where else ''}: "
            f"{error.message[:200]}",
            field=field,
        ) from None
    return schema


def validator(schema: dict[str, Any]) -> Validate:
    checker = jsonschema.validators.validator_for(schema)(schema)

    def validate(value: Any) -> str:
        error = jsonschema.exceptions.best_match(checker.iter_errors(value))
        if error is None:
            return ""
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{where or 'the answer'}: {error.message[:200]}"

    return validate


def call_envelope(tools: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The schema of one call of any of `tools` (name, parameters schema): an object
    `{"name": NAME, "arguments": {...}}`, name first, so a voice picks the function
    before it writes the arguments. Each tool's `$defs` move to the root (renamed per
    tool) so that its `$ref`s still resolve inside the envelope."""
    definitions: dict[str, Any] = {}
    options = []
    for position, (name, parameters) in enumerate(tools):
        params, defs = _hoist(parameters, prefix=f"tool{position}-")
        definitions.update(defs)
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": params},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    envelope: dict[str, Any] = options[0] if len(options) == 1 else {"anyOf": options}
    if definitions:
        envelope = {**envelope, "$defs": definitions}
    return envelope


def _hoist(schema: dict[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = copy.deepcopy(schema)
    schema.pop("$schema", None)  # a dialect is declared once, at the root
    defs = {**schema.pop("definitions", {}), **schema.pop("$defs", {})}
    renamed = {f"{prefix}{key}": value for key, value in defs.items()}

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                for base in ("#/$defs/", "#/definitions/"):
                    if ref.startswith(base):
                        node["$ref"] = f"#/$defs/{prefix}{ref[len(base) :]}"
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    rewrite(schema)
    rewrite(renamed)
    return schema, renamed
