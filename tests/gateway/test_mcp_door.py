"""The MCP door's own HTTP behaviour against a stand-in leader, on the wire a plain HTTP
client sees (docs/gateway.md: one POST a call, protocol revision 2026-07-28): a request
the protocol cannot read is a JSON-RPC error with the SDK's HTTP status, a tool call the
tool refuses is MCP's tool error (`isError`) naming the gateway's error code and status,
and the API key is the gateway's. The SDK's own client on the real stack is in
tests/e2e/test_mcp.py."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from conclave.gateway.app import create_app
from conclave.gateway.settings import GatewaySettings
from tests.gateway.conftest import DOOR_KEY
from tests.gateway.fake_leader import FakeAgents, FakeLeader

pytestmark = pytest.mark.timeout(120)

REVISION = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": REVISION,
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture(scope="module")
def door_client():
    """A loopback gateway over the stand-in leader: the SDK's DNS-rebinding protection
    lets only its own host names in."""
    settings = GatewaySettings(host="127.0.0.1", leader="fake:1", api_key=DOOR_KEY)
    app = create_app(settings, leader=FakeLeader(), agents=FakeAgents())
    with TestClient(
        app, base_url="http://127.0.0.1:8080", headers={"x-api-key": DOOR_KEY}
    ) as test_client:
        yield test_client


def post(client, tool: str, body, **headers):
    """One tools/call POST; `body` is the arguments, or raw bytes sent as they are."""
    if not isinstance(body, bytes):
        params = {"name": tool, "arguments": body, "_meta": META}
        body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
    return client.post(
        "/mcp",
        content=body,
        headers={
            "content-type": "application/json",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": REVISION,
            "mcp-method": "tools/call",
            "mcp-name": tool,
            **headers,
        },
    )


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("malformed json", b'{"jsonrpc": ', 400, -32700),
        ("a batch", b'[{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]', 400, -32600),
        (
            "no protocol envelope",
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "ask"}}',
            400,
            -32602,
        ),
    ],
)
def test_unreadable_requests_are_json_rpc_errors(door_client, name, body, status, code):
    reply = post(door_client, "ask", body)
    assert reply.status_code == status, reply.text
    error = reply.json()
    assert error["jsonrpc"] == "2.0" and error["error"]["code"] == code, error
    assert "result" not in error


@pytest.mark.parametrize(
    ("name", "tool", "arguments", "says"),
    [
        ("unknown tool", "vote_twice", {}, "Unknown tool: vote_twice"),
        ("missing question", "ask", {"max_tokens": 8}, "question"),
        ("max_tokens below 1", "ask", {"question": "hi", "max_tokens": 0}, "max_tokens"),
        ("unknown method", "ask", {"question": "hi", "method": "coin_flip"}, "method"),
        ("unknown strategy", "ask", {"question": "hi", "strategy": "dice"}, "strategy"),
        ("list_rounds limit", "list_rounds", {"limit": 1000}, "limit"),
        (
            "unknown participant",
            "ask",
            {"question": "hi", "participants": ["nobody"]},
            "not_found (404): ",
        ),
        ("unknown round", "get_round", {"round_id": "no-such-round"}, "not_found (404): "),
        (
            "lone surrogate in the question",
            "ask",
            {"question": "hi \ud800"},
            "question\n  Input should be a valid string, unable to parse raw data as a unicode",
        ),
        (
            "lone surrogate in the system message",
            "compare",
            {"question": "hi", "system": "\udfff"},
            "system\n  Input should be a valid string, unable to parse raw data as a unicode",
        ),
    ],
)
def test_refused_tool_calls_are_mcp_tool_errors(door_client, name, tool, arguments, says):
    reply = post(door_client, tool, arguments)
    assert reply.status_code == 200, reply.text
    result = reply.json()["result"]
    assert result["isError"] is True, result
    assert says in result["content"][0]["text"]


def test_a_good_call_answers_with_its_round(door_client):
    reply = post(door_client, "ask", {"question": "hi", "max_tokens": 8})
    assert reply.status_code == 200, reply.text
    result = reply.json()["result"]
    assert not result.get("isError"), result
    assert result["structuredContent"]["round_id"] and result["structuredContent"]["answer"]


def test_the_key_is_the_gateways(door_client):
    reply = post(door_client, "ask", {"question": "hi"}, **{"x-api-key": "wrong"})
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "invalid_api_key"
    assert door_client.get("/mcp", headers={"mcp-protocol-version": REVISION}).status_code == 405


def test_a_foreign_host_is_refused(door_client):
    # DNS rebinding: a page elsewhere must not reach a loopback gateway's tools.
    reply = post(door_client, "ask", {"question": "hi"}, host="evil.example:8080")
    assert reply.status_code == 421
