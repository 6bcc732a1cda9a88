"""The doors' pure parts: which error shape a path gets, the Anthropic error types by
status, MCP progress values, response ids, refusing unknown fields by name."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel, ConfigDict

from conclave.errors import InvalidRequest, NotFound, Overloaded, Unavailable
from conclave.gateway.anthropic.errors import anthropic_error
from conclave.gateway.errors import body, error_body, shaper_for
from conclave.gateway.mcp.tools import Progress, mcp_error
from conclave.gateway.responses.translate import response_id, round_id_of
from conclave.gateway.strict import refuse_extras
from conclave.leader.events import CandidateDone, RoundDecided, RoundStarted
from conclave.leader.types import RoundSpec
from tests.gateway.fake_leader import decided_round

pytestmark = pytest.mark.timeout(30)


def test_each_path_gets_its_doors_error_shape():
    shapers = {"/v1/messages": anthropic_error}
    assert shaper_for("/v1/messages", shapers) is anthropic_error
    assert shaper_for("/v1/messages/count_tokens", shapers) is anthropic_error
    assert shaper_for("/v1/messagesx", shapers) is body  # a prefix of a word is not a path
    assert shaper_for("/v1/chat/completions", shapers) is body


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (InvalidRequest("bad", field="x"), 400, "invalid_request_error"),
        (NotFound("none"), 404, "not_found_error"),
        (Overloaded("busy"), 429, "rate_limit_error"),
        (Unavailable("down"), 503, "overloaded_error"),
        (RuntimeError("bug"), 500, "api_error"),
    ],
)
def test_the_one_table_gives_the_status_and_anthropic_the_shape(error, status, kind):
    mapped, shaped = error_body(error, anthropic_error)
    assert mapped.status == status
    assert shaped == {
        "type": "error",
        "error": {"type": kind, "message": shaped["error"]["message"]},
    }
    assert "bug" not in shaped["error"]["message"]  # an internal error's text stays in the log
    openai_mapped, openai_shaped = error_body(error)
    assert openai_mapped == mapped and set(openai_shaped["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }


def test_an_mcp_tool_error_names_code_status_and_field():
    _, shaped = error_body(InvalidRequest("too long", field="question"), mcp_error)
    assert shaped["text"] == "invalid_request (400) (question): too long"


class FakeContext:
    def __init__(self) -> None:
        self.reports: list[tuple[float, float | None, str | None]] = []

    async def report_progress(self, progress, total=None, message=None) -> None:
        self.reports.append((progress, total, message))


def test_progress_counts_candidates_then_the_decision():
    ctx = FakeContext()
    progress = Progress(ctx, samples=2)
    record = decided_round(RoundSpec(messages=(("user", "q"),), samples_per_participant=2))

    async def run() -> None:
        await progress(RoundStarted("r9", "vote", "majority", ("a", "b")))
        for candidate in record.candidates:
            await progress(CandidateDone(candidate))
        await progress(RoundDecided(record))

    asyncio.run(run())
    values = [p for p, _, _ in ctx.reports]
    assert values == [0, 1, 2, 3]  # strictly increasing, as MCP requires
    assert {t for _, t, _ in ctx.reports} == {5}  # 2 participants x 2 samples + the decision
    assert "round r9 started" in ctx.reports[0][2] and ctx.reports[-1][2].startswith("decided")


def test_a_conversation_strategys_progress_has_no_total():
    ctx = FakeContext()
    asyncio.run(Progress(ctx, samples=1)(RoundStarted("r9", "parallel", "majority", ("a",))))
    assert ctx.reports == [(0, None, ctx.reports[0][2])]


def test_response_ids_name_rounds():
    assert round_id_of(response_id("0190abc")) == "0190abc"
    for bad in ("0190abc", "resp_", "msg_0190abc"):
        with pytest.raises(NotFound):
            round_id_of(bad)


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    known: int = 0


def test_unknown_fields_are_refused_by_name_with_the_reason():
    refuse_extras(Loose(known=1), {})
    with pytest.raises(InvalidRequest) as raised:
        refuse_extras(Loose(top_k=3), {"top_k": "not sampled"}, "request")
    assert raised.value.field == "request.top_k"
    assert str(raised.value) == "request.top_k is not supported: not sampled"
    with pytest.raises(InvalidRequest, match="colour is not a known field"):
        refuse_extras(Loose(colour="blue"), {})
