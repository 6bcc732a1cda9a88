"""Info, models, embeddings, health, reflection and the CLI against a real agent service."""

from __future__ import annotations

import math
import subprocess
import sys

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.support.servers import RunningAgent, agent_settings

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stub(channel):
    return agent_pb2_grpc.AgentServiceStub(channel)


def test_get_info_reports_model_slots_and_hardware(stub, agent):
    info = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    assert info.name == "test-agent"
    assert info.version
    assert info.model.id == "gemma-3-270m-q4_k_m"
    assert info.model.architecture == "gemma3"
    # A base model: the completion-style transcript, with the demonstrations it opens with.
    assert info.model.chat_format == "completion"
    assert "base model" in info.model.chat_format_reason
    roles = [m.role for m in info.model.demonstrations]
    assert len(roles) >= 6 and roles == ["user", "assistant"] * (len(roles) // 2)
    assert info.context_size == agent.settings.context_size
    assert info.slots_total == agent.settings.slots
    assert 0 <= info.slots_busy <= info.slots_total
    assert info.queue_limit == agent.settings.queue_limit
    assert info.hardware.logical_cores >= 1 and info.hardware.ram_total_bytes > 0
    assert info.threads == 2


def test_list_models_shows_both_bundled_models_the_default_loaded(stub):
    models = stub.ListModels(pb.ListModelsRequest(), timeout=10).models
    assert [m.id for m in models] == ["gemma-3-270m-q4_k_m", "smollm2-135m-instruct-q4_1"]
    assert models[0].loaded and models[0].size_bytes > 100 * 2**20
    assert not models[1].loaded  # loaded on first use


def test_embed_returns_one_vector_per_input(stub):
    reply = stub.Embed(pb.EmbedRequest(input=["a cat", "a cat", "stock prices"]), timeout=30)
    vectors = [list(e.values) for e in reply.embeddings]
    assert len(vectors) == 3 and len(vectors[0]) == 640
    assert vectors[0] == vectors[1]
    assert all(math.isfinite(v) for v in vectors[2])
    assert reply.prompt_tokens >= 3


def test_embed_without_input_is_invalid(stub):
    with pytest.raises(grpc.RpcError) as info:
        stub.Embed(pb.EmbedRequest(), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_count_tokens_matches_generate(stub):
    messages = [pb.ChatMessage(role="user", content="How many tokens is this?")]
    counted = stub.CountTokens(pb.CountTokensRequest(messages=messages), timeout=10)
    started = next(iter(stub.Generate(pb.GenerateRequest(messages=messages, max_tokens=1))))
    assert counted.tokens == started.started.prompt_tokens
    assert counted.context_size > counted.tokens


def test_health_goes_not_serving_serving_not_serving():
    agent = RunningAgent(agent_settings(name="health-agent", slots=1), load=False)
    try:
        with grpc.insecure_channel(agent.address) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            ask = health_pb2.HealthCheckRequest
            assert health.Check(ask(service=""), timeout=5).status == 2  # NOT_SERVING
            svc = "conclave.v1.AgentService"
            assert health.Check(ask(service=svc), timeout=5).status == 2
            with pytest.raises(grpc.RpcError) as info:
                list(
                    agent_pb2_grpc.AgentServiceStub(ch).Generate(
                        pb.GenerateRequest(prompt="hi"), timeout=5
                    )
                )
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "loading" in info.value.details()
            agent.load()
            assert health.Check(ask(service=svc), timeout=5).status == 1  # SERVING
            agent.drain()
            # After the drain the port is closed: the health check cannot even connect.
            with pytest.raises(grpc.RpcError):
                health.Check(ask(service=svc), timeout=2)
    finally:
        agent.drain()


def test_reflection_lists_the_service(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    reply = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=10)))
    names = {s.name for s in reply.list_services_response.service}
    assert {"conclave.v1.AgentService", "grpc.health.v1.Health"} <= names


def test_a_client_built_only_from_reflection_can_generate(agent):
    """What grpcurl does: no generated stubs, only descriptors fetched from the server."""
    with grpc.insecure_channel(agent.address) as ch:
        database = ProtoReflectionDescriptorDatabase(ch)
        pool = descriptor_pool.DescriptorPool(database)
        service = pool.FindServiceByName("conclave.v1.AgentService")
        method = service.methods_by_name["Generate"]
        request_cls = message_factory.GetMessageClass(method.input_type)
        event_cls = message_factory.GetMessageClass(method.output_type)
        assert request_cls is not pb.GenerateRequest  # truly built from reflection
        request = request_cls()
        message = request.messages.add()
        message.role, message.content = "user", "Say hello."
        request.max_tokens = 8
        call = ch.unary_stream(
            f"/{service.full_name}/Generate",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=event_cls.FromString,
        )
        events = list(call(request, timeout=300))
    assert events[0].WhichOneof("event") == "started"
    assert events[-1].WhichOneof("event") == "finished"
    assert events[-1].finished.usage.completion_tokens >= 1


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conclave.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_agent_call_streams_to_the_terminal(agent):
    done = run_cli(
        "agent",
        "call",
        "--addr",
        agent.address,
        "Say hi.",
        "--max-tokens",
        "12",
        "--temperature",
        "0",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert "prompt +" in done.stderr and "tok/s" in done.stderr


def test_agent_call_reports_a_bad_request(agent):
    done = run_cli("agent", "call", "--addr", agent.address, "hi", "--max-tokens", "-4")
    assert done.returncode == 1
    assert "INVALID_ARGUMENT" in done.stderr and "max_tokens" in done.stderr
