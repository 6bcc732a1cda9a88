"""Constrained decoding's pure parts: schema -> GBNF, the composed grammar, the request
checks and the proto round trip. The native parse is covered in tests/e2e."""

from __future__ import annotations

import json
import re

import pytest

from conclave.errors import InvalidRequest
from conclave.services import convert
from conclave.services.engine.grammar_text import ROOT, compose, literal
from conclave.services.engine.json_grammar import STRICT_CHAR, parse_schema, schema_to_gbnf
from conclave.services.engine.types import (
    ChatMessage,
    Constraint,
    GenerationRequest,
    SamplingParams,
)
from conclave.services.engine.validation import (
    MAX_CONSTRAINT_CHARS,
    RequestLimits,
    validate_generation,
)

CITY = json.dumps(
    {
        "type": "object",
        "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["name", "population"],
    }
)
LIMITS = RequestLimits(max_n=4, context_per_slot=1024)


def rules(text: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in text.strip().splitlines())


def test_a_schema_becomes_a_grammar_rooted_at_root() -> None:
    grammar = rules(schema_to_gbnf(CITY))
    assert '"\\"name\\""' in grammar["name-kv"] and "integer" in grammar["population-kv"]
    assert grammar["root"].startswith('"{"')


def test_string_characters_exclude_control_characters_and_line_breaks() -> None:
    # The converter's own rule admits a raw line break inside a string: "\nUser:" (a stop
    # string of the completion chat format) could then cut a JSON answer in half.
    grammar = schema_to_gbnf(CITY)
    assert STRICT_CHAR in grammar.splitlines()
    assert "\\x00-\\x1F" in rules(grammar)["char"]
    assert rules(grammar)["space"] == '" "?'  # no line breaks between tokens either


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON Schema object"),
        ('{"type": "nope"}', "cannot be turned into a grammar"),
        ('{"$ref": "https://example.com/s.json"}', "cannot be turned into a grammar"),
    ],
)
def test_a_bad_schema_is_refused_naming_the_field(schema: str, why: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        schema_to_gbnf(schema)
    assert info.value.field == "json_schema" and why in str(info.value)


def test_true_is_the_schema_of_any_value() -> None:
    assert parse_schema("true") == {}


def test_the_plain_answer_is_the_whole_reply() -> None:
    text = compose(Constraint(grammar='root ::= "yes" | "no"'))
    assert text.root == ROOT and text.field == "grammar"
    assert rules(text.text)[ROOT] == "root"


def test_reason_first_puts_one_free_paragraph_and_the_marker_before_the_answer() -> None:
    text = compose(Constraint(json_schema=CITY, after="Answer:"), leading_space=True)
    grammar = rules(text.text)
    assert grammar[ROOT] == '" "? conclave-reasoning "\\n" "Answer:" " "? root'
    assert (
        grammar["conclave-reasoning"] == "[^\\n\\r]*"
    )  # the paragraph's end is the answer's start
    assert text.field == "json_schema"


def test_allow_text_adds_free_text_that_cannot_start_like_json() -> None:
    grammar = rules(compose(Constraint(json_schema=CITY, allow_text=True)).text)
    assert grammar[ROOT] == "( root | conclave-text )"
    assert grammar["conclave-text"].startswith("[^{ ")


def test_marker_literals_are_escaped() -> None:
    assert literal('say "x" \\ y') == '"say \\"x\\" \\\\ y"'
    with pytest.raises(InvalidRequest) as info:
        literal("bell\x07")
    assert info.value.field == "constrain_after"


def request(constraint: Constraint, **sampling: object) -> GenerationRequest:
    return GenerationRequest(
        request_id="r",
        messages=(ChatMessage("user", "hi"),),
        sampling=SamplingParams(**sampling),
        constraint=constraint,
    )


@pytest.mark.parametrize(
    ("constraint", "sampling", "field"),
    [
        (Constraint(grammar='root ::= "a"', json_schema="{}"), {}, "grammar"),
        (Constraint(after="Answer:"), {}, "constrain_after"),
        (Constraint(allow_text=True), {}, "allow_text"),
        (Constraint(json_schema="{}", after="two\nlines"), {}, "constrain_after"),
        (Constraint(json_schema="{}", after="   "), {}, "constrain_after"),
        (Constraint(json_schema="{}", after="x" * 65), {}, "constrain_after"),
        (Constraint(grammar="x" * (MAX_CONSTRAINT_CHARS + 1)), {}, "grammar"),
        (Constraint(json_schema="{}"), {"ignore_eos": True}, "ignore_eos"),
    ],
)
def test_the_shape_of_a_constraint_is_checked(
    constraint: Constraint, sampling: dict, field: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_generation(request(constraint, **sampling), LIMITS)
    assert info.value.field == field


def test_a_good_constraint_passes() -> None:
    validate_generation(request(Constraint(json_schema=CITY, after="Answer:")), LIMITS)


def test_a_constraint_crosses_the_wire_both_ways() -> None:
    constraint = Constraint(json_schema=CITY, after="Answer:", allow_text=True)
    message = convert.request_to_proto(request(constraint))
    assert message.json_schema == CITY and message.constrain_after == "Answer:"
    back = convert.generation_request(message, default_max_tokens=16)
    assert back.constraint == constraint
    plain = convert.generation_request(
        convert.request_to_proto(request(Constraint())), default_max_tokens=16
    )
    assert not plain.constraint.active


def test_every_composed_rule_name_is_valid_gbnf() -> None:
    text = compose(Constraint(json_schema=CITY, after="A:", allow_text=True), leading_space=True)
    for name in rules(text.text):
        assert re.fullmatch(r"[a-zA-Z0-9-]+", name), name
