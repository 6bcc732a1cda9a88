"""Structured rounds through the RoundRunner (scripted agents, a real store): every voice
decodes under the round's schema, the vote compares canonical JSON, replies that are no
valid answer do not vote, and the round keeps its schema."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conclave.errors import InvalidRequest
from conclave.leader.discovery.directory import AgentDirectory, AgentEntry
from conclave.leader.events import RoundDecided
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.rounds import RoundRunner
from conclave.leader.store import RoundStore
from conclave.leader.strategies.vote import vote_strategy
from conclave.leader.types import ResponseFormat, RoundRecord, RoundRequest, ToolDefinition
from conclave.services.engine.types import (
    Delta,
    Finished,
    FinishReason,
    GenerationRequest,
    Timings,
    Usage,
)

pytestmark = pytest.mark.timeout(10)

CITY = json.dumps(
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "rank": {"type": "integer", "minimum": 1}},
        "required": ["city", "rank"],
    }
)
AGENTS = ("a", "b", "c")


@dataclass
class FakeClients:
    replies: dict[str, str]
    calls: list[GenerationRequest] = field(default_factory=list)

    async def generate(
        self, address: str, request: GenerationRequest, *, timeout: float
    ) -> AsyncIterator[Delta | Finished]:
        self.calls.append(request)
        await asyncio.sleep(0)
        text = self.replies[address.split(":")[0]]
        yield Delta(index=0, text=text, token_ids=(1,))
        yield Finished(
            index=0,
            reason=FinishReason.STOP,
            text=text,
            usage=Usage(prompt_tokens=3, completion_tokens=3),
            timings=Timings(0.0, 1.0, 1.0, 1.0, 3.0),
        )


def runner(tmp_path: Path, replies: dict[str, str]) -> tuple[RoundRunner, FakeClients, RoundStore]:
    directory = AgentDirectory()
    for name in AGENTS:
        directory.add(AgentEntry(address=f"{name}:50051", name=name, source="static"))
    clients = FakeClients(replies)
    store = RoundStore.open(tmp_path / "rounds.db")
    run = RoundRunner(
        clients=clients,  # type: ignore[arg-type]
        store=store,
        participants=ParticipantRegistry(directory, configured=(), per_agent=1),
        strategies={"vote": vote_strategy},
    )
    return run, clients, store


async def decide(run: RoundRunner, request: RoundRequest) -> RoundRecord:
    record = None
    async for event in run.run(request):
        if isinstance(event, RoundDecided):
            record = event.record
    assert record is not None
    return record


def city_round(**fields: object) -> RoundRequest:
    return RoundRequest(
        messages=(("user", "The largest city?"),),
        strategy="vote",
        response_format=ResponseFormat("json_schema", CITY, "city", strict=True),
        **fields,  # type: ignore[arg-type]
    )


async def test_every_voice_decodes_under_the_schema_and_votes_on_canonical_json(
    tmp_path: Path,
) -> None:
    run, clients, store = runner(
        tmp_path,
        {
            "a": '{"city": "Tokyo", "rank": 1}',
            "b": '{"rank":1.0,"city":"Tokyo"}',
            "c": '{"city": "Delhi", "rank": 2}',
        },
    )
    record = await decide(run, city_round())
    assert len(clients.calls) == 3
    for call in clients.calls:
        assert json.loads(call.constraint.json_schema) == json.loads(CITY)
        assert call.messages[0].role == "system" and "JSON Schema" in call.messages[0].content
    assert record.decision.answer == '{"city":"Tokyo","rank":1}'
    assert record.decision.tally['{"city":"Tokyo","rank":1}'] == 2  # the third: early stop
    assert record.decision.winner == 0
    stored = store.get(record.id)
    assert stored.request.response_format == ResponseFormat("json_schema", CITY, "city", True)
    store.close()


async def test_replies_outside_a_strict_schema_do_not_vote(tmp_path: Path) -> None:
    run, _, store = runner(
        tmp_path,
        {
            "a": '{"city": "Delhi", "rank": 0}',  # minimum 1: no vote
            "b": '{"city": "Delhi", "rank": 0}',
            "c": '{"city": "Tokyo", "rank": 1}',
        },
    )
    record = await decide(run, city_round())
    assert record.decision.answer == '{"city":"Tokyo","rank":1}'
    assert "did not vote" in record.decision.detail
    store.close()


async def test_the_fields_method_decides_each_field_by_majority(tmp_path: Path) -> None:
    run, _, store = runner(
        tmp_path,
        {
            "a": '{"city": "Tokyo", "rank": 2}',
            "b": '{"city": "Tokyo", "rank": 1}',
            "c": '{"city": "Delhi", "rank": 1}',
        },
    )
    record = await decide(run, city_round(method="fields"))
    assert json.loads(record.decision.answer) == {"city": "Tokyo", "rank": 1}
    assert record.decision.method == "fields"
    store.close()


async def test_a_tool_round_votes_on_the_call(tmp_path: Path) -> None:
    weather = ToolDefinition(
        "get_weather",
        "Weather in a city.",
        json.dumps({"type": "object", "properties": {"city": {"type": "string"}}}),
    )
    run, clients, store = runner(
        tmp_path,
        {
            "a": '{"name": "get_weather", "arguments": {"city": "Paris"}}',
            "b": '{"arguments": {"city": "Paris"}, "name": "get_weather"}',
            "c": '{"response": "It is sunny."}',
        },
    )
    request = RoundRequest(
        messages=(("user", "Weather in Paris?"),), strategy="vote", tools=(weather,)
    )
    record = await decide(run, request)
    assert all("response" in call.constraint.json_schema for call in clients.calls)
    assert json.loads(record.decision.answer) == {
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    assert store.get(record.id).request.tools == (weather,)
    store.close()


async def test_a_bad_schema_is_refused_before_any_voice_is_asked(tmp_path: Path) -> None:
    run, clients, store = runner(tmp_path, {})
    bad = RoundRequest(
        messages=(("user", "q"),),
        strategy="vote",
        response_format=ResponseFormat("json_schema", '{"type": "nope"}'),
    )
    with pytest.raises(InvalidRequest) as info:
        await decide(run, bad)
    assert info.value.field == "response_format.schema"
    assert clients.calls == []
    store.close()
