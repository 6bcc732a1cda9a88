"""A long strategy stream on the real stack keeps the connection alive: a
`conclave-parallel` round of three voices and two critique turns (long enough that a
proxy's idle timeout would matter, 13 s and more on a 2-core box), through a gateway that
promises `: keep-alive` every `keepalive_s`. The gaps are measured by the client, between
the lines it receives: the property the docs promise (docs/gateway.md, streaming)."""

from __future__ import annotations

import itertools
import json
import time

import httpx
import pytest

from tests.support.servers import RunningGateway, gateway_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

KEEPALIVE_S = 1.0
# How late a keep-alive may be on a busy machine (the event loop shares 2 cores with the
# decoding threads): generous, yet far below the round's length, which the old timer let
# pass in silence.
LATENESS_S = 1.0


@pytest.fixture(scope="module")
def eager_gateway(leader):
    with RunningGateway(gateway_settings(leader.address, keepalive_s=KEEPALIVE_S)) as running:
        yield running


def test_a_long_parallel_stream_gets_a_keepalive_every_keepalive_s(eager_gateway):
    body = {
        "model": "conclave-parallel",
        "stream": True,
        "max_tokens": 64,
        "temperature": 1.0,
        "seed": 3,
        "messages": [{"role": "user", "content": "Tell a long story about a lighthouse."}],
        "conclave": {"params": {"critique_rounds": "2", "stop_on_agreement": "false"}},
    }
    arrivals: list[tuple[float, str]] = []
    with httpx.stream(
        "POST", eager_gateway.url + "/v1/chat/completions", json=body, timeout=240
    ) as reply:
        assert reply.status_code == 200
        start = time.monotonic()
        for line in reply.iter_lines():
            if line:
                arrivals.append((time.monotonic(), line))
    lasted = arrivals[-1][0] - start
    if lasted < 3 * KEEPALIVE_S:
        pytest.fail(f"the round took only {lasted:.1f} s: too short to show keep-alives")
    keepalives = [t for t, line in arrivals if line == ": keep-alive"]
    times = [start] + [t for t, _ in arrivals]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= KEEPALIVE_S + LATENESS_S, (
        f"a silence of {max(gaps):.1f} s in a {lasted:.1f} s stream ({len(keepalives)} keep-alives)"
    )
    # The stream still ends with the decided answer.
    data = [json.loads(line[6:]) for _, line in arrivals if line.startswith("data: {")]
    assert data[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert arrivals[-1][1] == "data: [DONE]"
    print(f"stream of {lasted:.1f} s, {len(keepalives)} keep-alives, longest gap {max(gaps):.2f} s")
