"""A JSON Schema as a GBNF grammar whose every match is one JSON value of the schema.

The conversion is llama.cpp's own (`llama_cpp.llama_grammar.SchemaConverter`, pure
Python), with one rule made stricter: its `char` admits raw control characters inside
strings, which `json.loads` rejects and which would let a string hold a line break (and
with it a chat format's stop string such as "\\nUser:"). Here a string character is
never a control character; line breaks inside strings are written as the escape `\\n`.
Whitespace between tokens is at most one space (the converter's own rule), so no JSON
value this grammar admits contains a line break at all.

What the grammar enforces: `type`, `properties`, `required`, `additionalProperties`,
`items`, `prefixItems`, `minItems`, `maxItems`, `enum`, `const`, `anyOf` / `oneOf`
(as alternatives), `allOf` of objects, local `$ref`s, `pattern`, `minLength`,
`maxLength`, and `format` date, time, date-time and uuid. Anything else (`minimum`,
`multipleOf`, `uniqueItems`, other formats, ...) is not a shape a context-free grammar
of tokens can hold: it is not enforced here, and a caller that needs it validates the
result (the leader does, for strict response formats).
"""

from __future__ import annotations

import json
import re

from llama_cpp.llama_grammar import SchemaConverter

from conclave.errors import InvalidRequest

FIELD = "json_schema"
# JSON's string character: anything but a quote, a backslash or a control character,
# or an escape (the grammar of RFC 8259, section 7).
STRICT_CHAR = (
    r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] '
    r"[0-9a-fA-F] [0-9a-fA-F])"
)
_CHAR_RULE = re.compile(r"^char ::= .*$", re.MULTILINE)


def parse_schema(schema_text: str, field: str = FIELD) -> dict:
    """The schema as a dict; InvalidRequest naming `field` when it is not one."""
    try:
        schema = json.loads(schema_text)
    except ValueError as error:
        raise InvalidRequest(f"{field} is not valid JSON: {error}", field=field) from None
    if schema is True:
        return {}
    if not isinstance(schema, dict):
        raise InvalidRequest(
            f"{field} must be a JSON Schema object, got {type(schema).__name__}", field=field
        )
    return schema


def schema_to_gbnf(schema_text: str, field: str = FIELD) -> str:
    """GBNF text whose rule `root` matches exactly the JSON values the grammar can hold
    of the schema (see the module docstring)."""
    schema = parse_schema(schema_text, field)
    converter = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    try:
        resolved = converter.resolve_refs(schema, "input")
        converter.visit(resolved, "")
        text = converter.format_grammar()
    except RecursionError:
        raise InvalidRequest(f"{field} nests or refers to itself too deeply", field=field) from None
    except Exception as error:  # the converter asserts and indexes its way through input
        detail = str(error) or type(error).__name__
        raise InvalidRequest(
            f"{field} cannot be turned into a grammar: {detail[:300]}", field=field
        ) from None
    return _CHAR_RULE.sub(lambda _: STRICT_CHAR, text)
