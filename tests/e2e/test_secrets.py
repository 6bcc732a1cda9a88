"""A key an upstream echoes in its error never leaves Conclave nor is stored.

A real HTTP server poses as the OpenAI upstream of a litellm-backend agent and answers
every call 401, repeating the key it was sent (as a careless provider or proxy does).
The key must appear in none of: the agent's gRPC error, the gateway's response, the
leader's round store on disk, and `GET /v1/rounds/{id}`.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import httpx
import pytest

from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.support.servers import (
    RunningAgent,
    RunningGateway,
    RunningLeader,
    agent_settings,
    gateway_settings,
    leader_settings,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Not shaped like any known credential: only redaction of the configured key masks it.
KEY = "planted-" + secrets.token_hex(12)


class EchoingUpstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # http.server calls it by this name
        self.rfile.read(int(self.headers.get("content-length") or 0))
        sent = self.headers.get("authorization", "")
        body = json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided: {sent.removeprefix('Bearer ')}. "
                    f"You sent the header Authorization: {sent}",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
        ).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def leaky_agent(upstream):
    settings = agent_settings(
        name="leaky",
        backend="litellm",
        upstream="openai/gpt-4o-mini",
        api_base=upstream,
        api_key=KEY,
    )
    with RunningAgent(settings) as running:
        yield running


def test_the_agents_grpc_error_does_not_hold_the_key(leaky_agent):
    with grpc.insecure_channel(leaky_agent.address) as ch:
        stub = agent_pb2_grpc.AgentServiceStub(ch)
        request = pb.GenerateRequest(
            messages=[pb.ChatMessage(role="user", content="hi")], max_tokens=4
        )
        with pytest.raises(grpc.RpcError) as failed:
            list(stub.Generate(request, timeout=60))
    details = failed.value.details()
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert KEY not in details
    assert "[redacted]" in details  # the upstream's text is there, the key is not
    assert "Incorrect API key provided" in details


def test_the_gateway_and_the_round_store_do_not_hold_the_key(leaky_agent, tmp_path):
    db = tmp_path / "rounds.db"
    with (
        RunningLeader(
            leader_settings(db, participants=[{"name": "leaky", "address": leaky_agent.address}])
        ) as leader,
        RunningGateway(gateway_settings(leader.address)) as gateway,
        httpx.Client(base_url=gateway.url, timeout=120) as http,
    ):
        reply = http.post(
            "/v1/chat/completions",
            json={"model": "agent/leaky", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert reply.status_code == 503, reply.text
        assert KEY not in reply.text
        (failed,) = http.get("/v1/rounds").json()["data"]
        assert failed["status"] == "no_quorum"
        stored = http.get(f"/v1/rounds/{failed['id']}")
        assert stored.status_code == 200
        assert "Incorrect API key provided" in stored.text  # the error was recorded...
        assert KEY not in stored.text  # ...without the key
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("rounds.db*"))
    assert on_disk  # the store and its WAL were written
    assert KEY.encode() not in on_disk
