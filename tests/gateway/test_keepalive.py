"""Keep-alives on every door's strategy stream: the timer runs on what the client
receives. A strategy stream drops its participants' token pieces, so a round that
produces pieces all the time still sends nothing until it is decided; those pieces must
not reset the keep-alive timer (the real-stack timing test is in
tests/e2e/test_stream_keepalive.py)."""

from __future__ import annotations

import httpx
import pytest

from conclave.gateway.app import create_app
from conclave.gateway.settings import GatewaySettings
from tests.gateway.fake_leader import ChattyLeader, FakeAgents
from tests.support.servers import RunningGateway

pytestmark = pytest.mark.timeout(60)

ASK = [{"role": "user", "content": "hi"}]
# Pieces every 0.02 s for 0.6 s, a keep-alive due every 0.1 s of silence on the wire.
KEEPALIVE_S = 0.1

DOORS = {
    "chat": ("/v1/chat/completions", {"model": "conclave-vote", "messages": ASK}, ": keep-alive"),
    "responses": ("/v1/responses", {"model": "conclave-vote", "input": "hi"}, ": keep-alive"),
    "anthropic": (
        "/v1/messages",
        {"model": "conclave-vote", "max_tokens": 8, "messages": ASK},
        "event: ping",
    ),
}


@pytest.fixture(scope="module")
def chatty_gateway():
    settings = GatewaySettings(host="127.0.0.1", port=0, leader="fake:1", keepalive_s=KEEPALIVE_S)
    app = create_app(settings, leader=ChattyLeader(), agents=FakeAgents())
    with RunningGateway(settings, app=app) as running:
        yield running


@pytest.mark.parametrize("door", DOORS)
def test_dropped_pieces_do_not_hold_back_keepalives(door, chatty_gateway):
    path, body, marker = DOORS[door]
    with httpx.stream("POST", chatty_gateway.url + path, json={**body, "stream": True}) as reply:
        assert reply.status_code == 200
        text = "".join(reply.iter_text())
    assert marker in text
    # The keep-alives come before the answer, while the round runs.
    assert text.index(marker) < text.index("answer 0")
