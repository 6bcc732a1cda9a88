"""The gateway on a real swarm, through real OpenAI-compatible clients."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from openai import AsyncOpenAI, OpenAI
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import (
    RunningAgent,
    RunningGateway,
    RunningLeader,
    agent_settings,
    gateway_settings,
    leader_settings,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ASK = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture(scope="module")
def client(gateway):
    return OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


def test_chat_completion_names_its_round_and_the_round_holds_every_vote(client, gateway):
    raw = client.chat.completions.with_raw_response.create(
        model="conclave-vote", messages=ASK, max_tokens=16, seed=3
    )
    reply = raw.parse()
    round_id = raw.headers["x-conclave-round-id"]
    assert reply.model_extra["conclave"]["round_id"] == round_id
    assert reply.choices[0].message.content
    assert reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    record = httpx.get(f"{gateway.url}/v1/rounds/{round_id}").json()
    assert record["id"] == round_id and record["status"] == "decided"
    assert len(record["candidates"]) == 3
    winner = record["decision"]["winner"]
    assert record["candidates"][winner]["text"] == reply.choices[0].message.content
    listed = httpx.get(f"{gateway.url}/v1/rounds", params={"tag": "model=conclave-vote"}).json()
    assert round_id in [r["id"] for r in listed["data"]]


def test_same_seed_same_answer_and_n_choices(client):
    first = client.chat.completions.create(
        model="conclave-vote", messages=ASK, max_tokens=12, seed=11, temperature=0.8, n=2
    )
    again = client.chat.completions.create(
        model="conclave-vote", messages=ASK, max_tokens=12, seed=11, temperature=0.8, n=2
    )
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    assert len(first.choices) == 2


def test_streaming_a_participant_streams_live_tokens(client):
    chunks = list(
        client.chat.completions.create(
            model="agent/test-agent",
            # An answer several tokens long, so streaming has pieces to show: greedy, a
            # base model keeps counting (a sampled "Count from one to ten." was once "10").
            messages=[{"role": "user", "content": "Count from 1 to 1000, separated by commas."}],
            max_tokens=12,
            temperature=0.0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(texts) > 2  # token by token, not one decided blob
    finals = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finals[-1] in ("stop", "length")
    assert chunks[-1].usage.completion_tokens >= len(texts)


def test_streaming_a_vote_sends_the_decided_answer(client, gateway):
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "conclave-vote",
            "messages": ASK,
            "max_tokens": 12,
            "stream": True,
        },
        timeout=600,
    ) as response:
        assert response.status_code == 200
        round_id = response.headers["x-conclave-round-id"]
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    payloads = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    content = "".join(p["choices"][0]["delta"].get("content", "") for p in payloads)
    record = httpx.get(f"{gateway.url}/v1/rounds/{round_id}").json()
    assert content == record["text"]


async def test_async_client(gateway):
    client = AsyncOpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    replies = await asyncio.gather(
        *(
            client.chat.completions.create(model="agent/test-agent", messages=ASK, max_tokens=8)
            for _ in range(3)
        )
    )
    assert all(r.choices[0].message.content for r in replies)
    stream = await client.chat.completions.create(
        model="conclave-vote", messages=ASK, max_tokens=8, stream=True
    )
    chunks = [c async for c in stream]
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    await client.close()


def test_text_completions_models_and_embeddings(client):
    completion = client.completions.create(
        model="agent/test-agent", prompt="Once upon", max_tokens=8
    )
    assert completion.choices[0].text
    assert completion.model_extra["conclave"]["round_id"]
    ids = [m.id for m in client.models.list().data]
    assert {"conclave-vote", "agent/test-agent", "agent/test-agent-2"} <= set(ids)
    vectors = client.embeddings.create(model="agent/test-agent", input=["a", "b"]).data
    assert len(vectors) == 2 and len(vectors[0].embedding) == 640


def test_autogen_openai_client_through_the_gateway(gateway):
    from autogen_core.models import ModelFamily, UserMessage
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    async def ask() -> str:
        client = OpenAIChatCompletionClient(
            model="conclave-vote",
            base_url=gateway.url + "/v1",
            api_key="unused",
            max_tokens=12,
            model_info={
                "vision": False,
                "function_calling": False,
                "json_output": False,
                "family": ModelFamily.UNKNOWN,
                "structured_output": False,
            },
        )
        try:
            result = await client.create([UserMessage(content="Name a colour.", source="user")])
        finally:
            await client.close()
        return result.content

    assert isinstance(asyncio.run(ask()), str)


def test_litellm_through_the_gateway(gateway):
    import litellm

    reply = litellm.completion(
        model="openai/conclave-vote",
        api_base=gateway.url + "/v1",
        api_key="unused",
        messages=ASK,
        max_tokens=12,
    )
    assert reply.choices[0].message.content
    assert reply.model_extra.get("conclave", {}).get("round_id") or reply._hidden_params


@pytest.fixture(scope="module")
def roomy_gateway(tmp_path_factory):
    """An agent whose queue holds 32 requests, so 32 clients at once are all served."""
    db = tmp_path_factory.mktemp("roomy") / "rounds.db"
    with (
        RunningAgent(agent_settings(name="roomy", slots=4, queue_limit=32)) as roomy,
        RunningLeader(leader_settings(db, agents=[roomy.address])) as leader,
        RunningGateway(gateway_settings(leader.address)) as gateway,
    ):
        yield gateway


def test_thirty_two_concurrent_streams_all_complete(roomy_gateway):
    gateway = roomy_gateway

    def one(i: int) -> tuple[int, str]:
        text, finish, last = "", None, ""
        with httpx.stream(
            "POST",
            f"{gateway.url}/v1/chat/completions",
            json={
                "model": "agent/roomy",
                "messages": [{"role": "user", "content": f"Hi {i}"}],
                "max_tokens": 6,
                "stream": True,
                "temperature": 0,
            },
            timeout=600,
        ) as response:
            status = response.status_code
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    payload = json.loads(line[6:])
                    assert "error" not in payload, payload
                    choice = payload["choices"][0]
                    text += choice["delta"].get("content", "")
                    finish = choice["finish_reason"] or finish
                last = line or last
        assert last == "data: [DONE]"
        return status, finish

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, range(32)))
    assert all(status == 200 for status, _ in results)
    assert all(finish in ("stop", "length") for _, finish in results)


def test_excess_load_gets_429_with_retry_after_never_a_cut_stream(leader):
    with RunningGateway(gateway_settings(leader.address, max_concurrent=2)) as small:

        def one(i: int):
            response = httpx.post(
                f"{small.url}/v1/chat/completions",
                json={
                    "model": "agent/test-agent",
                    "messages": ASK,
                    "max_tokens": 24,
                    "stream": True,
                    "temperature": 0,
                },
                timeout=600,
            )
            return response.status_code, response.headers.get("retry-after"), response.text

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(8)))
    refused = [r for r in results if r[0] == 429]
    served = [r for r in results if r[0] == 200]
    assert refused and served and len(refused) + len(served) == 8
    assert all(r[1] and int(r[1]) >= 1 for r in refused)
    assert all(
        r[2].rstrip().endswith("data: [DONE]") and '"finish_reason": "' in r[2] for r in served
    )


def test_api_key_guards_v1_but_not_health(leader):
    with RunningGateway(gateway_settings(leader.address, api_key="s3cret")) as guarded:
        assert httpx.get(f"{guarded.url}/v1/models").status_code == 401
        bad = httpx.get(f"{guarded.url}/v1/models", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
        good = httpx.get(f"{guarded.url}/v1/models", headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200
        assert httpx.get(f"{guarded.url}/health").status_code == 200


def test_health_and_metrics(gateway, client):
    client.chat.completions.create(model="agent/test-agent", messages=ASK, max_tokens=4)
    health = httpx.get(f"{gateway.url}/health").json()
    assert health["leader"] == "ok" and health["agents"] == 1
    metrics = httpx.get(f"{gateway.url}/metrics").text
    for name in (
        "conclave_gateway_requests_total",
        "conclave_gateway_request_seconds",
        "conclave_gateway_tokens_total",
        "conclave_gateway_rounds_total",
        "conclave_gateway_round_agreement",
        "conclave_gateway_errors_total",
    ):
        assert name in metrics


def test_metrics_show_each_agents_cached_and_prefilled_prompt_tokens(gateway, client):
    for _ in range(2):  # the second finds the first's prompt in a slot
        reply = client.chat.completions.create(
            model="agent/test-agent", messages=ASK, max_tokens=4, temperature=0
        )
    samples = {
        (s.name, s.labels.get("kind")): s.value
        for family in text_string_to_metric_families(httpx.get(f"{gateway.url}/metrics").text)
        for s in family.samples
        if s.labels.get("agent") == "test-agent"
    }
    cached = samples[("conclave_agent_prompt_tokens", "cached")]
    prefilled = samples[("conclave_agent_prompt_tokens", "prefilled")]
    assert cached >= reply.usage.prompt_tokens - 1  # all of the repeat but its last token
    assert prefilled >= reply.usage.prompt_tokens  # the first time, all of it
    assert samples[("conclave_agent_generated_tokens", None)] >= 2


def test_usage_says_how_much_of_the_prompt_the_agents_had_cached(gateway, client):
    ask = [{"role": "user", "content": "Which is the heaviest of the metals you know of?"}]
    first, second = (
        client.chat.completions.with_raw_response.create(
            model="agent/test-agent", messages=ask, max_tokens=4, temperature=0
        )
        for _ in range(2)
    )
    new, repeat = first.parse().usage, second.parse().usage
    # The repeat finds all of its prompt but the last token (its logits are computed
    # again) in the slot the first left; the first found at most the shared opening.
    assert repeat.prompt_tokens_details.cached_tokens == repeat.prompt_tokens - 1
    assert new.prompt_tokens_details.cached_tokens < repeat.prompt_tokens_details.cached_tokens
    round_id = second.headers["x-conclave-round-id"]
    (candidate,) = httpx.get(f"{gateway.url}/v1/rounds/{round_id}").json()["candidates"]
    assert candidate["cached_prompt_tokens"] == repeat.prompt_tokens_details.cached_tokens
