"""Bytes that are not the request's protobuf message are INVALID_ARGUMENT on agent and
leader (not UNKNOWN), and the service logs one warning per peer, not a traceback per
request."""

from __future__ import annotations

import logging

import grpc
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

NOT_PROTOBUF = b"\xff\xff\xff\xff"
SURROGATE = b"\x03\xed\xa0\x80"  # a string's length and the UTF-8 bytes of \ud800
# A string field of each request holding text that is not UTF-8 (protobuf refuses it).
CHAT_MESSAGE_CONTENT = b"\x0a\x06\x12\x04\xc3\x28\x21\x21"  # messages[0].content


@pytest.mark.parametrize(
    ("server", "method", "streaming", "bad_text"),
    [
        ("agent", "/conclave.v1.AgentService/Generate", True, CHAT_MESSAGE_CONTENT),
        ("agent", "/conclave.v1.AgentService/Embed", False, b"\x0a" + SURROGATE),  # input[0]
        ("leader", "/conclave.v1.LeaderService/RunRound", True, CHAT_MESSAGE_CONTENT),
        ("leader", "/conclave.v1.LeaderService/GetRound", False, b"\x0a" + SURROGATE),  # id
    ],
)
def test_undecodable_requests_are_invalid_argument_logged_once(
    request, server, method, streaming, bad_text, caplog
):
    address = request.getfixturevalue(server).address
    caplog.set_level(logging.DEBUG, logger="conclave.grpc_decode")
    with grpc.insecure_channel(address) as channel:
        call = (channel.unary_stream if streaming else channel.unary_unary)(method)
        garbage = [NOT_PROTOBUF, bad_text, NOT_PROTOBUF]
        for data in garbage:
            with pytest.raises(grpc.RpcError) as refused:
                reply = call(data, timeout=30)
                if streaming:
                    list(reply)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "not a valid" in refused.value.details()
    records = [r for r in caplog.records if r.name == "conclave.grpc_decode"]
    assert len(records) == len(garbage)  # each refusal seen...
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 1  # ...but at most one warning for this peer, never a traceback
    assert not any(r.exc_info for r in caplog.records)
