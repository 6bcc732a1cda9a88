"""The MCP tools on the gateway at `/mcp` (streamable HTTP), behind the same API key.

The SDK's own streamable-HTTP endpoint answers at `/mcp` in the gateway's app (not a
sub-app mount, which would answer `/mcp` with a redirect to `/mcp/`); its session manager
runs inside the gateway's lifespan, a fresh one each time the app starts (the SDK's
manager runs once only); the key is checked exactly as on the gateway's `/v1` routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Request
from mcp.server import MCPServer
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from conclave.errors import ConclaveError, Unavailable
from conclave.gateway.door import Door
from conclave.gateway.errors import error_response
from conclave.gateway.mcp.settings import McpSettings
from conclave.gateway.mcp.tools import OnEvent, build_server
from conclave.leader.types import RoundRecord, RoundSpec

PATH = "/mcp"


class McpEndpoint:
    """The ASGI endpoint at `/mcp`: the key first, then the SDK's transport."""

    def __init__(
        self, server: MCPServer, *, host: str, authorize: Callable[[Request], None]
    ) -> None:
        self._server = server
        self._host = host
        self._authorize = authorize
        self._transport: ASGIApp | None = None

    @classmethod
    def for_gateway(cls, door: Door, authorize: Callable[[Request], None]) -> McpEndpoint:
        """The tools with the gateway's limits; their rounds are admitted (max_concurrent)
        and metered like every other door's."""
        s = door.settings
        # model_construct: these values are the gateway's, already validated; nothing may
        # come from CONCLAVE_MCP_* or an MCP config file here.
        limits = McpSettings.model_construct(
            leader=s.leader,
            request_timeout_s=s.request_timeout_s,
            max_tokens_cap=s.max_tokens_cap,
            max_content_chars=s.max_content_chars,
            log_level=s.log_level,
            config_file=None,
        )

        async def decide(spec: RoundSpec, on_event: OnEvent) -> RoundRecord:
            with door.admission.held():
                return await door.service.decide(spec, on_event)

        server = build_server(door.leader, limits, decide)
        return cls(server, host=s.host, authorize=authorize)

    def route(self) -> Route:
        return Route(PATH, endpoint=self)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # `host` turns on the SDK's DNS-rebinding protection for a loopback gateway.
        sdk_app = self._server.streamable_http_app(streamable_http_path=PATH, host=self._host)
        (transport,) = [r.app for r in sdk_app.routes if isinstance(r, Route) and r.path == PATH]
        async with self._server.session_manager.run():
            self._transport = transport
            try:
                yield
            finally:
                self._transport = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._authorize(Request(scope))
            if self._transport is None:
                raise Unavailable("the MCP endpoint is not running")
        except ConclaveError as error:
            await error_response(error)(scope, receive, send)
            return
        await self._transport(scope, receive, send)
