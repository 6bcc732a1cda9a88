"""The gateway's FastAPI app: the OpenAI API over the swarm, rounds, health, metrics."""

from __future__ import annotations

import base64
import hmac
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from conclave import __version__
from conclave.agents.rpc import AgentClients
from conclave.errors import InvalidRequest, NotFound, Unavailable
from conclave.gateway import catalog, round_events, structured, unsupported
from conclave.gateway import ui as dashboard
from conclave.gateway.admission import Admission
from conclave.gateway.anthropic import routes as anthropic
from conclave.gateway.completions import (
    CHAT,
    TEXT,
    CompletionService,
    Kind,
    check_limits,
    round_spec,
)
from conclave.gateway.door import ROUND_HEADER, Door, agent_address, json_answer, sse_answer
from conclave.gateway.errors import AuthenticationFailed, install_error_handlers
from conclave.gateway.experiments import ExperimentFolder
from conclave.gateway.health import swarm_health
from conclave.gateway.limits import BodyLimit
from conclave.gateway.mcp.http import McpEndpoint
from conclave.gateway.metrics import Metrics
from conclave.gateway.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    ErrorResponse,
    ModelCard,
    ModelList,
    SamplingFields,
)
from conclave.gateway.responses import routes as responses
from conclave.gateway.settings import GatewaySettings
from conclave.grpc_channels import Channels
from conclave.leader import convert
from conclave.leader.client import LeaderClient
from conclave.redact import secrets_in
from conclave.swarm_security import SwarmSecurity

ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 404, 413, 429, 503, 504)}


def create_app(
    settings: GatewaySettings,
    *,
    leader: LeaderClient | None = None,
    agents: AgentClients | None = None,
) -> FastAPI:
    """`leader` and `agents` default to real clients of the settings' leader and of the
    agents it lists (embeddings), sharing one channel cache; tests pass stand-ins."""
    # The swarm token and certificates ride on every channel to the leader and the agents.
    channels = Channels(SwarmSecurity.from_settings(settings))
    leader = leader or LeaderClient(settings.leader, channels=channels)
    agent_clients = agents or AgentClients(channels)
    metrics = Metrics()
    service = CompletionService(leader, settings, metrics)
    admission = Admission(
        settings.max_concurrent,
        metrics.in_flight,
        on_refuse=lambda: metrics.refusal("gateway_full"),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.running():
            yield
        await leader.close()
        await agent_clients.close()
        await channels.close()

    app = FastAPI(
        title="Conclave gateway",
        version=__version__,
        description="The OpenAI API for a swarm of local LLM agents, and every vote in the "
        "open. See docs/gateway.md.",
        lifespan=lifespan,
    )
    # Each door's errors in its own API's shape (the status always from the one table).
    shapers = {**anthropic.SHAPERS}
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, shapers=shapers)
    install_error_handlers(app, settings.retry_after_s, shapers, secrets_in(settings))

    @app.middleware("http")
    async def observe(request: Request, call_next):
        start = time.perf_counter()

        def observed(status: int) -> None:
            route = getattr(request.scope.get("route"), "path", "unmatched")
            metrics.observe_request(route, status, time.perf_counter() - start)

        try:
            response = await call_next(request)
        except Exception:
            # An unexpected error becomes its 500 outside this middleware (Starlette's
            # outermost error handler): count it here, or /metrics never shows it.
            observed(500)
            raise
        observed(response.status_code)
        return response

    def authorize(request: Request) -> None:
        if settings.api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            # Anthropic's clients send the key as `x-api-key`.
            token = request.headers.get("x-api-key", "")
        expected = settings.api_key.get_secret_value().encode()
        if not token or not hmac.compare_digest(token.strip().encode(), expected):
            raise AuthenticationFailed(
                "a valid API key is required: Authorization: Bearer KEY (or x-api-key: KEY)"
            )

    guarded = [Depends(authorize)]

    async def answer(
        kind: Kind,
        request: SamplingFields,
        messages: list[tuple[str, str]],
        form: structured.AnswerForm = structured.PLAIN_FORM,
        *,
        watch: bool = False,
    ) -> Response:
        """`watch`: answer with the round's own event stream (`POST /v1/rounds`)."""
        target = catalog.resolve(request.model)
        check_limits(request, messages, settings)
        params = dict(request.conclave.params or {}) if request.conclave else {}
        structured.check(form, messages, params)

        async def produce() -> Response:
            if watch:
                spec = round_spec(request, target, messages, form)
                round_id, items = await service.open_round(spec)
                return sse_answer(round_events.sse(service, items, settings.keepalive_s), round_id)
            if not request.stream:
                body = await service.complete(kind, request, target, messages, form)
                return json_answer(body, body["conclave"]["round_id"])
            round_id, events = await service.open_stream(kind, request, target, messages, form)
            return sse_answer(events, round_id)

        return await admission.admit(produce)

    @app.post(
        "/v1/chat/completions",
        dependencies=guarded,
        responses=ERRORS,
        summary="Chat completion by a strategy or one participant",
    )
    async def chat_completions(request: ChatCompletionRequest) -> Response:
        unsupported.refuse(request.model_extra, unsupported.REQUEST, "")
        for i, m in enumerate(request.messages):
            unsupported.refuse(m.model_extra, unsupported.MESSAGE, f"messages[{i}].")
        messages = structured.render_messages(request.messages)
        return await answer(CHAT, request, messages, structured.answer_form(request))

    @app.post(
        "/v1/completions",
        dependencies=guarded,
        responses=ERRORS,
        summary="Text completion (the prompt is sent as one user turn)",
    )
    async def completions(request: CompletionRequest) -> Response:
        unsupported.refuse(request.model_extra, unsupported.REQUEST, "")
        prompt = request.prompt if isinstance(request.prompt, str) else "".join(request.prompt)
        return await answer(TEXT, request, [("user", prompt)])

    door = Door(settings, leader, agent_clients, service, admission)
    app.include_router(anthropic.router(door), dependencies=guarded, responses=ERRORS)
    app.include_router(responses.router(door), dependencies=guarded, responses=ERRORS)
    mcp = McpEndpoint.for_gateway(door, authorize)
    app.router.routes.append(mcp.route())

    @app.get("/v1/models", dependencies=guarded, response_model=ModelList)
    async def models() -> ModelList:
        created = int(time.time())
        cards = [
            ModelCard(
                id=m.id,
                created=created,
                conclave={
                    "strategy": m.strategy,
                    "description": m.description,
                    "defaults": m.defaults,
                },
            )
            for m in catalog.STRATEGY_MODELS
        ]
        try:
            listed = await leader.list_agents()
        except (Unavailable, NotFound):
            listed = []
        for agent in listed:
            # Every model the agent serves (a voice asks for one; `model` on a round's
            # participant may name any of them).
            served = [m["id"] for m in (agent.info or {}).get("models", [])]
            for name in agent.participants:
                cards.append(
                    ModelCard(
                        id=catalog.AGENT_PREFIX + name,
                        created=created,
                        conclave={
                            "agent": agent.name,
                            "address": agent.address,
                            "model": agent.participant_models.get(name) or agent.model,
                            "agent_models": served,
                            # A voice whose agent does not answer is listed, marked dead.
                            "reachable": not agent.error,
                            **({"error": agent.error} if agent.error else {}),
                        },
                    )
                )
        return ModelList(data=cards)

    @app.post("/v1/embeddings", dependencies=guarded, responses=ERRORS)
    async def embeddings(request: EmbeddingRequest) -> dict[str, Any]:
        texts = [request.input] if isinstance(request.input, str) else request.input
        if not texts or len(texts) > 256:
            raise InvalidRequest("input takes 1 to 256 strings", field="input")
        if sum(len(t) for t in texts) > settings.max_content_chars:
            raise InvalidRequest("input is too long", field="input")
        address = await agent_address(leader, request.model)
        result = await agent_clients.embed(address, texts, timeout=60.0)
        return {
            "object": "list",
            "model": request.model,
            "data": [
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": _encode(v, request.encoding_format),
                }
                for i, v in enumerate(result.vectors)
            ],
            "usage": {
                "prompt_tokens": result.prompt_tokens,
                "total_tokens": result.prompt_tokens,
            },
        }

    @app.get(
        "/v1/rounds", dependencies=guarded, responses=ERRORS, summary="Rounds, newest first, paged"
    )
    async def list_rounds(
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        after: Annotated[str | None, Query(max_length=512)] = None,
        strategy: Annotated[str | None, Query(max_length=64)] = None,
        since: Annotated[float | None, Query(ge=0)] = None,
        until: Annotated[float | None, Query(ge=0)] = None,
        tag: Annotated[str | None, Query(max_length=256, pattern=r"^[^=]+=.*$")] = None,
        status: Annotated[str | None, Query(max_length=32)] = None,
    ) -> dict[str, Any]:
        page = await leader.list_rounds(
            page_size=limit,
            page_token=after,
            strategy=strategy,
            since=since,
            until=until,
            tag=tag,
            status=status,
        )
        return {
            "object": "list",
            "data": [convert.summary_json(s) for s in page.rounds],
            "next": page.next_page_token or None,
        }

    @app.post(
        "/v1/rounds",
        dependencies=guarded,
        responses=ERRORS,
        summary="Run a round and stream its events: every voice's text, each candidate, "
        "the decided round (SSE)",
    )
    async def run_round(request: ChatCompletionRequest) -> Response:
        unsupported.refuse(request.model_extra, unsupported.REQUEST, "")
        for i, m in enumerate(request.messages):
            unsupported.refuse(m.model_extra, unsupported.MESSAGE, f"messages[{i}].")
        for name in ("stream", "stream_options"):
            if name in request.model_fields_set:
                raise InvalidRequest(
                    f"{name} does not apply here: /v1/rounds always streams the round's events",
                    field=name,
                )
        messages = structured.render_messages(request.messages)
        return await answer(CHAT, request, messages, structured.answer_form(request), watch=True)

    @app.get(
        "/v1/rounds/{round_id}",
        dependencies=guarded,
        responses=ERRORS,
        summary="One round: candidates, critiques, tally, winner, agreement, timings",
    )
    async def get_round(round_id: str) -> dict[str, Any]:
        if len(round_id) > 128:
            raise InvalidRequest("round id is too long", field="round_id")
        return convert.round_json(await leader.get_round(round_id))

    @app.get("/v1/agents", dependencies=guarded, responses=ERRORS)
    async def agents() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [convert.agent_json(a) for a in await leader.list_agents()],
        }

    experiments = ExperimentFolder(settings.experiments_dir)

    # Plain functions: FastAPI runs them in its thread pool (they read files).
    @app.get("/v1/experiments", dependencies=guarded, responses=ERRORS)
    def list_experiments() -> dict[str, Any]:
        return {"object": "list", "data": experiments.runs()}

    @app.get("/v1/experiments/{name}", dependencies=guarded, responses=ERRORS)
    def get_experiment(name: str) -> dict[str, Any]:
        return experiments.run(name)

    @app.get("/v1/experiments/{name}/files/{file}", dependencies=guarded, responses=ERRORS)
    def experiment_file(name: str, file: str) -> Response:
        path, media_type = experiments.file(name, file)
        return FileResponse(path, media_type=media_type)

    if settings.ui:
        # Static pages only: every figure they show comes from the routes above.
        app.include_router(dashboard.router())

    @app.get(
        "/health", summary="Gateway, leader and agents, with reasons when degraded (no API key)"
    )
    async def health() -> Response:
        report = await swarm_health(leader)
        return _json({**report.body(), "version": __version__}, status=report.http_status)

    @app.get("/metrics", dependencies=guarded, summary="Prometheus metrics")
    async def prometheus() -> Response:
        try:
            metrics.agents_seen(await leader.list_agents())
        except (Unavailable, NotFound):
            metrics.agents_seen([])  # no leader: the gateway's own figures still count
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def _json(
    body: dict[str, Any], headers: dict[str, str] | None = None, status: int = 200
) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


__all__ = ["ROUND_HEADER", "create_app"]
