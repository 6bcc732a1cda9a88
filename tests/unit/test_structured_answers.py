"""Structured answers in the leader: canonical JSON, the `json` extraction, the `fields`
vote, and what a round's OutputSpec makes of a request and of its replies."""

from __future__ import annotations

import json

import pytest

from conclave.errors import InvalidRequest
from conclave.leader.structured import OutputSpec
from conclave.leader.structured.render import call_text, tool_result_text
from conclave.leader.structured.schemas import call_envelope
from conclave.leader.types import Candidate, ResponseFormat, RoundRequest, ToolDefinition
from conclave.leader.voting import METHODS, VoteParams, extract_answer
from conclave.leader.voting.canonical import NO_VALUE, canonical, parse_json

CITY = json.dumps(
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "rank": {"type": "integer", "minimum": 1}},
        "required": ["city", "rank"],
    }
)
WEATHER = ToolDefinition(
    "get_weather",
    "The weather in a city.",
    json.dumps(
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    ),
)
TIME = ToolDefinition("get_time", "", "")


def request(**fields: object) -> RoundRequest:
    return RoundRequest(messages=(("user", "q"),), **fields)  # type: ignore[arg-type]


def spec(**fields: object) -> OutputSpec:
    return OutputSpec.of(request(**fields))


def json_format(schema: str = CITY, strict: bool = False) -> ResponseFormat:
    return ResponseFormat("json_schema", schema, "city", strict)


def candidate(text: str, participant: str = "p", finish: str = "stop") -> Candidate:
    return Candidate(participant, participant, 0, text, finish)


# ---- canonical JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ('{"b": 1, "a": [1.0, 2]}', '{"a":[1,2.0],"b":1}'),
        ("0.50", "0.5"),
        ("-0", "0"),
        ("1e2", "100"),
        ('"Zürich"', '"Z\\u00fcrich"'),
    ],
)
def test_equal_values_have_one_spelling(a: str, b: str) -> None:
    assert canonical(parse_json(a)) == canonical(parse_json(b))


def test_different_values_keep_different_spellings() -> None:
    assert canonical(parse_json('"1"')) != canonical(parse_json("1"))
    assert canonical(parse_json("true")) != canonical(parse_json("1"))


@pytest.mark.parametrize("text", ["NaN", "Infinity", '{"a": 1', "1 2", ""])
def test_what_is_not_one_json_value_has_none(text: str) -> None:
    assert parse_json(text) is NO_VALUE


# ---- the json extraction --------------------------------------------------------------


def test_json_extraction_reads_the_whole_reply_or_what_follows_the_marker() -> None:
    assert extract_answer(' { "b": 2, "a": 1 } ', "json") == '{"a":1,"b":2}'
    assert extract_answer('It is B, Mars.\nAnswer: "B"', "json") == '"B"'
    assert extract_answer("It is 4.\nAnswer: 4\nAnswer: 5", "json") == "5"  # the last one


def test_json_extraction_reads_a_plain_reply_as_auto_does() -> None:
    assert extract_answer("The answer is Paris.", "json") == extract_answer(
        "The answer is Paris.", "auto"
    )


# ---- the fields vote ------------------------------------------------------------------


def vote_fields(*texts: str):
    # A structured round votes with the json extraction (rounds.py sets it).
    candidates = [candidate(t, f"p{i}") for i, t in enumerate(texts)]
    return METHODS["fields"].vote(candidates, VoteParams(extract="json"))


def test_each_field_is_decided_by_its_own_majority() -> None:
    decision = vote_fields(
        '{"city": "Paris", "rank": 1, "river": "Seine"}',
        '{"city": "Paris", "rank": 2}',
        '{"city": "Lyon", "rank": 2}',
    )
    # river: one object of three has it, fewer than half: left out
    assert json.loads(decision.answer) == {"city": "Paris", "rank": 2}
    assert decision.winner == 1  # the one agreeing on both fields
    assert [g.answer for g in decision.groups][:2] == ['city="Paris"', 'city="Lyon"']
    assert decision.agreement == pytest.approx(2 / 3)
    assert 'city="Lyon"' in decision.dissent and "rank=1" in decision.dissent


def test_the_answer_may_combine_fields_no_voice_wrote_together() -> None:
    decision = vote_fields('{"a": 1, "b": 1}', '{"a": 1, "b": 2}', '{"a": 2, "b": 2}', '{"a": 3}')
    assert json.loads(decision.answer) == {"a": 1, "b": 2}


def test_with_no_object_the_fields_vote_is_a_majority() -> None:
    decision = vote_fields('"A"', '"B"', '"A"')
    assert decision.method == "fields" and decision.answer == '"A"' and decision.winner == 0


def test_reason_first_objects_vote_by_what_follows_the_marker() -> None:
    decision = vote_fields('hmm\nAnswer: {"x": 1}', 'well\nAnswer: {"x": 1}', '{"x": 2}')
    assert decision.answer == '{"x":1}'


# ---- OutputSpec: a request's answer form ------------------------------------------------


def test_plain_text_needs_no_grammar() -> None:
    plain = spec()
    assert not plain.structured and not plain.constraint().active
    assert plain.instructions() == "" and plain.read("hi").content == "hi"


def test_a_json_schema_round_decodes_under_its_schema() -> None:
    out = spec(response_format=json_format())
    constraint = out.constraint()
    assert json.loads(constraint.json_schema) == json.loads(CITY) and not constraint.after
    assert "JSON Schema" in out.instructions() and '"city"' in out.instructions()


def test_json_object_asks_for_any_object() -> None:
    out = spec(response_format=ResponseFormat("json_object"))
    assert json.loads(out.constraint().json_schema) == {"type": "object"}
    assert not out.read("[1, 2]").valid and out.read('{"k": [1]}').content == '{"k":[1]}'


def test_reason_first_puts_the_marker_in_the_grammar_and_reads_the_answer_after_it() -> None:
    out = spec(response_format=json_format(), params={"answer_format": "reason_first"})
    assert out.constraint().after == "Answer:"
    reply = out.read('Paris is first.\nAnswer: {"rank": 1, "city": "Paris"}')
    assert reply.valid and reply.content == '{"city":"Paris","rank":1}'
    assert reply.reasoning == "Paris is first."
    assert not out.read("Paris is first and then").valid  # cut before the marker


def test_strict_checks_what_a_grammar_cannot_hold() -> None:
    loose, strict = (
        spec(response_format=json_format()),
        spec(response_format=json_format(strict=True)),
    )
    reply = '{"city": "Paris", "rank": 0}'  # minimum 1: a grammar cannot hold it
    assert loose.read(reply).valid
    assert not strict.read(reply).valid and "minimum" in strict.read(reply).problem


def test_a_reply_cut_off_mid_json_does_not_vote() -> None:
    out = spec(response_format=json_format())
    assert not out.votable(candidate('{"city": "Par', finish="length"))
    assert out.votable(candidate('{"city": "Paris", "rank": 1}'))


def test_tools_auto_is_a_call_or_plain_text() -> None:
    out = spec(tools=(WEATHER, TIME))
    constraint = out.constraint()
    options = json.loads(constraint.json_schema)["anyOf"]
    names = [o["properties"]["name"]["const"] for o in options[:-1]]
    assert names == ["get_weather", "get_time"]
    assert options[-1]["required"] == ["response"]  # a plain answer, as JSON
    answer = out.read('{"response": "It is sunny."}')
    assert answer.kind == "text" and answer.content == "It is sunny." and answer.valid
    call = out.read('{"name": "get_weather", "arguments": {"city": "Paris"}}')
    assert call.kind == "tool_call" and call.tool == "get_weather"
    assert call.arguments == '{"city":"Paris"}'
    assert out.read("It is sunny.").kind == "text" and out.read("It is sunny.").valid
    assert not out.read('{"name": "launch", "arguments": {}}').valid  # no such tool
    assert "get_weather" in out.instructions() and '{"response"' in out.instructions()
    forced = spec(tools=(WEATHER,), tool_choice="required")
    assert not forced.read('{"response": "no"}').valid


def test_a_named_tool_choice_offers_that_tool_alone_and_forces_the_call() -> None:
    out = spec(tools=(WEATHER, TIME), tool_choice="function:get_time")
    schema = json.loads(out.constraint().json_schema)
    assert schema["properties"]["name"] == {"const": "get_time"}
    assert not out.constraint().allow_text
    assert not out.read("no call").valid
    assert "must call the tool get_time" in out.instructions()


def test_tool_choice_none_answers_in_plain_text() -> None:
    assert not spec(tools=(WEATHER,), tool_choice="none").structured


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"response_format": ResponseFormat("xml")}, "response_format.type"),
        ({"response_format": ResponseFormat("json_schema")}, "response_format.schema"),
        ({"response_format": json_format("{nope")}, "response_format.schema"),
        ({"response_format": json_format('{"type": 5}')}, "response_format.schema"),
        ({"response_format": ResponseFormat("text", "{}")}, "response_format.schema"),
        ({"tools": (ToolDefinition("has space"),)}, "tools[0].function.name"),
        ({"tools": (WEATHER, WEATHER)}, "tools[1].function.name"),
        (
            {"tools": (ToolDefinition("f", "", '{"type": "string"}'),)},
            "tools[0].function.parameters",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": (WEATHER,), "tool_choice": "function:other"}, "tool_choice"),
        ({"tools": (WEATHER,), "tool_choice": "sometimes"}, "tool_choice"),
        (
            {"tools": (WEATHER,), "response_format": ResponseFormat("json_object")},
            "response_format",
        ),
        ({"params": {"answer_format": "reason_first"}}, "params.answer_format"),
        ({"params": {"answer_format": "sideways"}}, "params.answer_format"),
    ],
)
def test_a_bad_answer_form_is_refused_naming_the_field(fields: dict, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        spec(**fields)
    assert info.value.field == field


def test_tool_definitions_keep_their_refs_inside_the_envelope() -> None:
    params = {
        "type": "object",
        "properties": {"where": {"$ref": "#/$defs/Place"}},
        "$defs": {"Place": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
    envelope = call_envelope([("go", params)])
    assert envelope["properties"]["arguments"]["properties"]["where"] == {
        "$ref": "#/$defs/tool0-Place"
    }
    assert "tool0-Place" in envelope["$defs"]


def test_a_history_of_calls_reads_as_the_voices_own_kind_of_turn() -> None:
    assert json.loads(call_text("get_weather", '{"city": "Paris"}')) == {
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    assert json.loads(call_text("f", "not json"))["arguments"] == "not json"
    assert tool_result_text("get_weather", " 21 C ") == "Result of the tool get_weather: 21 C"
