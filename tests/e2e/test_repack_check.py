"""The fast mode on the real model: the agent serves, and GetInfo says which weights
layout runs and why, both when the self-test's child has crashed on this CPU before (a
remembered verdict, planted here) and when it runs for real."""

from __future__ import annotations

import json

import grpc
import pytest

from conclave.services.engine.repack_check import VERDICTS_FILE, verdict_key
from conclave.services.model_source import default_cache_dir, resolve_model
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.support.servers import RunningAgent, agent_settings, hardware

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def fast_agent(verdicts):
    # The model file named directly, so the tmp cache dir holds only the verdicts.
    path = resolve_model(None, default_cache_dir()).path
    settings = agent_settings(
        name="fast-agent", model=str(path), model_cache_dir=verdicts, batch_invariant=False
    )
    return RunningAgent(settings), path


def info_and_answer(agent) -> tuple[pb.ModelInfo, str]:
    with grpc.insecure_channel(agent.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        info = stub.GetInfo(pb.GetInfoRequest(), timeout=10).model
        request = pb.GenerateRequest(
            messages=[pb.ChatMessage(role="user", content="What is the capital of France?")],
            max_tokens=8,
            temperature=0.0,
            seed=1,
        )
        events = list(stub.Generate(request, timeout=120))
        text = next(e.finished.text for e in events if e.HasField("finished"))
    return info, text


def test_a_remembered_crash_serves_plain_weights_and_says_why(tmp_path):
    path = resolve_model(None, default_cache_dir()).path
    planted = {"ok": False, "detail": "the self-test died of SIGSEGV", "cpu": "", "model": ""}
    (tmp_path / VERDICTS_FILE).write_text(
        json.dumps({verdict_key(path, hardware().cpu_model): planted})
    )
    agent, _ = fast_agent(tmp_path)
    with agent:
        info, text = info_and_answer(agent)
    assert info.weights == "plain"
    assert "SIGSEGV" in info.weights_reason and "cached" in info.weights_reason
    assert "Paris" in text


def test_the_self_test_runs_once_and_its_verdict_is_what_is_served(tmp_path):
    agent, path = fast_agent(tmp_path)
    with agent:
        info, text = info_and_answer(agent)
    saved = json.loads((tmp_path / VERDICTS_FILE).read_text())
    verdict = saved[verdict_key(path, hardware().cpu_model)]
    assert info.weights == ("repacked" if verdict["ok"] else "plain")
    assert verdict["detail"] in info.weights_reason and "cached" not in info.weights_reason
    assert text.strip()
