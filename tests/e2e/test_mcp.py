"""Conclave's MCP tools through the official `mcp` SDK's own client, on a real swarm:
streamable HTTP at the gateway's /mcp (behind its API key) and `conclave mcp` on stdio."""

from __future__ import annotations

import asyncio
import re
import sys
import time

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

KEY = "mcp-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
TOOLS = {"ask", "compare", "get_round", "list_rounds", "list_agents"}
STARTED = re.compile(r"round (\w+) started")


@pytest.fixture(scope="module")
def gateway_key() -> str:
    return KEY


def http_client(gateway) -> Client:
    transport = streamable_http_client(
        gateway.url + "/mcp", http_client=httpx2.AsyncClient(headers=AUTH, timeout=300)
    )
    return Client(transport, read_timeout_seconds=300)


def stdio_client(leader) -> Client:
    command = [sys.executable, "-m", "conclave.cli.main", "mcp", "--leader", leader.address]
    return Client(StdioServerParameters(command=command[0], args=command[1:]))


class Notes:
    """Progress notifications as they arrive."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []
        self.started = asyncio.Event()

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))
        if message and STARTED.search(message):
            self.started.set()

    def round_id(self) -> str:
        for _, _, message in self.seen:
            if message and (found := STARTED.search(message)):
                return found.group(1)
        raise AssertionError(f"no round start among {self.seen}")


async def ask_and_check(client: Client, gateway) -> None:
    tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.description and tool.input_schema["type"] == "object"
    ask = next(t for t in tools if t.name == "ask")
    assert {"question", "strategy", "method", "max_tokens"} <= set(ask.input_schema["properties"])

    notes = Notes()
    result = await client.call_tool(
        "ask",
        {"question": "Name a colour.", "max_tokens": 12, "params": {"extract": "first_line"}},
        progress_callback=notes,
    )
    assert not result.is_error, result.content
    answer = result.structured_content
    assert answer["answer"] and answer["strategy"] == "vote" and answer["method"] == "majority"
    assert 0 < answer["agreement"] <= 1
    # The round id names the stored round, which the rounds API serves.
    record = httpx.get(f"{gateway.url}/v1/rounds/{answer['round_id']}", headers=AUTH).json()
    assert record["id"] == answer["round_id"] and record["status"] == "decided"
    assert record["tags"]["api"] == "mcp" and record["tags"]["tool"] == "ask"
    assert record["text"] == answer["answer"]
    # Progress: the start (with the round id), a step per candidate, then the decision.
    assert notes.round_id() == answer["round_id"]
    values = [progress for progress, _, _ in notes.seen]
    assert len(values) >= 3 and values == sorted(set(values))
    assert notes.seen[-1][2].startswith("decided by majority")


async def test_streamable_http_lists_the_tools_and_asks_the_council(gateway):
    async with http_client(gateway) as client:
        await ask_and_check(client, gateway)


async def test_stdio_server_lists_the_tools_and_asks_the_council(leader, gateway):
    async with stdio_client(leader) as client:
        await ask_and_check(client, gateway)


async def test_compare_returns_one_answer_per_participant(gateway):
    async with http_client(gateway) as client:
        agents = (await client.call_tool("list_agents", {})).structured_content["agents"]
        participants = [p for a in agents for p in a["participants"]]
        assert len(participants) == 3
        assert agents[0]["healthy"] and agents[0]["slots_total"] == 4 and agents[0]["model"]

        result = await client.call_tool("compare", {"question": "Name a fruit.", "max_tokens": 8})
        assert not result.is_error, result.content
        compared = result.structured_content
        assert sorted(a["participant"] for a in compared["answers"]) == sorted(participants)
        assert all(a["finish_reason"] in ("stop", "length") for a in compared["answers"])

        shown = await client.call_tool("get_round", {"round_id": compared["round_id"]})
        candidates = shown.structured_content["round"]["candidates"]
        assert [c["text"] for c in candidates] == [a["answer"] for a in compared["answers"]]

        page = await client.call_tool("list_rounds", {"tag": "tool=compare", "limit": 5})
        assert compared["round_id"] in [r["id"] for r in page.structured_content["rounds"]]


async def test_tool_errors_are_mapped_and_the_key_is_required(gateway):
    async with http_client(gateway) as client:
        missing = await client.call_tool("get_round", {"round_id": "no-such-round"})
        assert missing.is_error and "not_found (404): " in missing.content[0].text
        bad = await client.call_tool("ask", {"question": "hi", "method": "coin_flip"})
        assert bad.is_error  # not one of the methods the schema lists
        nobody = await client.call_tool("ask", {"question": "hi", "participants": ["nobody"]})
        assert nobody.is_error and "(404)" in nobody.content[0].text
    refused = httpx.post(
        gateway.url + "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


def slots_busy(gateway) -> int:
    agents = httpx.get(f"{gateway.url}/v1/agents", headers=AUTH).json()["data"]
    return sum(a["info"]["slots_busy"] for a in agents)


async def until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_cancelling_a_tool_call_cancels_its_round(gateway):
    async with http_client(gateway) as client:
        notes = Notes()
        call = asyncio.ensure_future(
            client.call_tool(
                "ask",
                {
                    # A base model keeps counting: this answer runs to max_tokens (~10 s
                    # here) unless the round is cancelled.
                    "question": "Count from 1 to 1000, separated by commas.",
                    "participants": ["test-agent"],
                    "max_tokens": 700,
                    "temperature": 0.0,
                },
                progress_callback=notes,
            )
        )
        await asyncio.wait_for(notes.started.wait(), timeout=60)
        assert await until(lambda: slots_busy(gateway) == 1, timeout=30)  # generating now
        call.cancel()
        cancelled_at = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await call
        # The agent's slot is free within moments: the generation stopped with the call.
        assert await until(lambda: slots_busy(gateway) == 0, timeout=5)
        assert time.monotonic() - cancelled_at < 5
    round_id = notes.round_id()
    assert await until(
        lambda: httpx.get(f"{gateway.url}/v1/rounds/{round_id}", headers=AUTH).status_code == 200,
        timeout=30,
    )
    record = httpx.get(f"{gateway.url}/v1/rounds/{round_id}", headers=AUTH).json()
    # Stored as cut short, never decided.
    assert record["status"] == "failed", record
    assert "interrupted" in record["error"]
