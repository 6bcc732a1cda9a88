"""Every agent RPC has limits and honours cancellation: Embed refuses too many inputs
or characters and stops computing when its caller goes away; CountTokens refuses a
text too long. The limits are settings (max_embed_inputs, max_embed_chars,
max_count_tokens_chars), and each refusal names its setting."""

from __future__ import annotations

import grpc
import pytest

from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def stub(channel):
    return agent_pb2_grpc.AgentServiceStub(channel)


def refused(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as error:
        call(request, timeout=60)
    return error.value


def test_ten_thousand_embed_inputs_are_refused_naming_the_limit(stub, agent):
    before = agent.server.state.engine.stats().embed_inputs_total
    error = refused(stub.Embed, pb.EmbedRequest(input=["a few words"] * 10_000))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "10000 strings" in error.details()
    assert "max_embed_inputs" in error.details()
    assert agent.server.state.engine.stats().embed_inputs_total == before  # no work done


def test_embed_inputs_too_long_together_are_refused(stub):
    error = refused(stub.Embed, pb.EmbedRequest(input=["x" * 600_000, "y" * 600_000]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max_embed_chars" in error.details()


def test_count_tokens_of_three_million_characters_is_refused(stub):
    error = refused(stub.CountTokens, pb.CountTokensRequest(prompt="word " * 600_000))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max_count_tokens_chars" in error.details()


def test_count_tokens_under_the_limit_still_counts(stub):
    reply = stub.CountTokens(pb.CountTokensRequest(prompt="hello world " * 1000), timeout=60)
    assert reply.tokens > 1000


def test_embed_stops_computing_when_its_caller_goes_away(stub, agent):
    inputs = [f"{i}: " + "the quick brown fox jumps over the lazy dog " * 40 for i in range(20)]
    before = agent.server.state.engine.stats().embed_inputs_total
    error = refused(lambda r, timeout: stub.Embed(r, timeout=0.5), pb.EmbedRequest(input=inputs))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The next Embed waits for the embedding context, so it runs once the cancelled
    # request's worker has stopped; had it not stopped, all 20 vectors were computed.
    stub.Embed(pb.EmbedRequest(input=["after"]), timeout=120)
    computed = agent.server.state.engine.stats().embed_inputs_total - before - 1
    assert computed < len(inputs)
