"""Generate on a real agent service with the real bundled model."""

from __future__ import annotations

import grpc
import pytest

from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

pytestmark = pytest.mark.e2e


def chat(text: str, **fields) -> pb.GenerateRequest:
    return pb.GenerateRequest(messages=[pb.ChatMessage(role="user", content=text)], **fields)


def collect(stub, request) -> list[pb.GenerateEvent]:
    return list(stub.Generate(request, timeout=600))


@pytest.fixture(scope="module")
def stub(channel):
    return agent_pb2_grpc.AgentServiceStub(channel)


def test_stream_starts_then_deltas_then_one_finish(stub):
    events = collect(stub, chat("Name three colours.", max_tokens=24, temperature=0.0))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "started"
    assert kinds[-1] == "finished"
    assert kinds.count("started") == 1 and kinds.count("finished") == 1
    assert set(kinds[1:-1]) <= {"delta"}
    started, finished = events[0].started, events[-1].finished
    assert started.request_id and started.n == 1 and started.prompt_tokens > 5
    text = "".join(e.delta.text for e in events if e.HasField("delta"))
    assert text == finished.text and text
    assert finished.usage.prompt_tokens == started.prompt_tokens
    assert 1 <= finished.usage.completion_tokens <= 24
    assert finished.usage.total_tokens == (
        finished.usage.prompt_tokens + finished.usage.completion_tokens
    )
    assert finished.finish_reason in (pb.FINISH_REASON_STOP, pb.FINISH_REASON_LENGTH)
    assert finished.timings.total_ms >= finished.timings.time_to_first_token_ms > 0


def test_max_tokens_ends_with_length(stub):
    # Greedy: a sampled answer may end at a turn marker (a stop) on its fifth token.
    events = collect(
        stub, chat("Count to one hundred.", max_tokens=5, ignore_eos=True, temperature=0.0)
    )
    finished = events[-1].finished
    assert finished.finish_reason == pb.FINISH_REASON_LENGTH
    assert finished.usage.completion_tokens == 5
    token_ids = [t for e in events if e.HasField("delta") for t in e.delta.token_ids]
    assert len(token_ids) <= 5


def test_n_samples_each_finish_once(stub):
    events = collect(stub, chat("Tell a fact.", n=3, max_tokens=16, seed=11, temperature=1.0))
    finished = {e.finished.index: e.finished for e in events if e.HasField("finished")}
    assert sorted(finished) == [0, 1, 2]
    for index, fin in finished.items():
        text = "".join(
            e.delta.text for e in events if e.HasField("delta") and e.delta.index == index
        )
        assert text == fin.text
    # One shared prefill: every sample reports the same prompt.
    assert len({f.usage.prompt_tokens for f in finished.values()}) == 1


def test_same_seed_same_text(stub):
    request = chat("Write a line about rivers.", n=2, max_tokens=24, seed=1234, temperature=0.9)
    first = [e.finished.text for e in collect(stub, request) if e.HasField("finished")]
    second = [e.finished.text for e in collect(stub, request) if e.HasField("finished")]
    assert first == second
    other = chat("Write a line about rivers.", n=2, max_tokens=24, seed=99, temperature=0.9)
    third = [e.finished.text for e in collect(stub, other) if e.HasField("finished")]
    assert third != first  # the seed matters


def test_stop_string_cuts_the_text(stub):
    base = collect(
        stub,
        pb.GenerateRequest(
            prompt="1, 2, 3, 4, 5,", max_tokens=20, temperature=0.0, ignore_eos=True
        ),
    )
    text = base[-1].finished.text
    assert len(text) > 4
    stop = text[2:4]
    cut = collect(
        stub,
        pb.GenerateRequest(prompt="1, 2, 3, 4, 5,", max_tokens=20, temperature=0.0, stop=[stop]),
    )
    assert cut[-1].finished.text == text[: text.index(stop)]
    assert cut[-1].finished.finish_reason == pb.FINISH_REASON_STOP


def test_raw_prompt_and_system_message(stub):
    raw = collect(stub, pb.GenerateRequest(prompt="The capital of France is", max_tokens=8))
    assert raw[-1].HasField("finished")
    with_system = collect(
        stub,
        pb.GenerateRequest(
            messages=[
                pb.ChatMessage(role="system", content="You are terse."),
                pb.ChatMessage(role="user", content="Hi"),
            ],
            max_tokens=8,
        ),
    )
    plain = collect(stub, chat("Hi", max_tokens=8))
    # The system text is folded into the first user turn, so the prompt grows.
    assert with_system[0].started.prompt_tokens > plain[0].started.prompt_tokens


BAD_REQUESTS = [
    (chat("hi", max_tokens=-1), "max_tokens"),
    (chat("hi", max_tokens=0), "max_tokens"),
    (chat("hi", n=0), "n must be"),
    (chat("hi", n=99), "n must be"),
    (chat("hi", temperature=5.0), "temperature"),
    (chat("hi", temperature=float("nan")), "temperature"),
    (chat("hi", top_p=0.0), "top_p"),
    (chat("hi", top_k=-3), "top_k"),
    (chat("hi", seed=-1), "seed"),
    (chat("hi", stop=[""]), "stop"),
    (pb.GenerateRequest(), "messages must not be empty"),
    (pb.GenerateRequest(messages=[pb.ChatMessage(role="robot", content="x")]), "role"),
    (
        pb.GenerateRequest(prompt="x", messages=[pb.ChatMessage(role="user", content="x")]),
        "either messages or prompt",
    ),
    (pb.GenerateRequest(messages=[pb.ChatMessage(role="assistant", content="x")]), "last"),
]


@pytest.mark.parametrize(("request_", "fragment"), BAD_REQUESTS)
def test_bad_parameters_are_invalid_argument(stub, request_, fragment):
    with pytest.raises(grpc.RpcError) as info:
        collect(stub, request_)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in info.value.details()


def test_prompt_longer_than_context_names_both_lengths(stub, agent):
    context = agent.settings.context_size
    with pytest.raises(grpc.RpcError) as info:
        collect(stub, pb.GenerateRequest(prompt="hello " * (context + 50)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = info.value.details()
    assert str(context) in details and "tokens" in details


def test_unknown_model_is_not_found(stub):
    with pytest.raises(grpc.RpcError) as info:
        collect(stub, chat("hi", model="no-such-model"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
