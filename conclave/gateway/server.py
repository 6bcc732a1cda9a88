"""Runs the gateway under uvicorn."""

from __future__ import annotations

import uvicorn

from conclave.gateway.app import create_app
from conclave.gateway.settings import GatewaySettings
from conclave.startup import check_port_free, port_unavailable


def build_server(settings: GatewaySettings) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=5,
        # Each SSE stream is one connection: many clients at once is the normal case.
        limit_concurrency=None,
    )
    return uvicorn.Server(config)


async def serve(settings: GatewaySettings) -> None:
    # Checked before uvicorn starts the app: uvicorn would log the bind error among its
    # start-up lines and leave by sys.exit from inside the loop.
    check_port_free(settings.host, settings.port)
    await run_server(build_server(settings), settings)


async def run_server(server: uvicorn.Server, settings: GatewaySettings) -> None:
    """`server.serve()`, but a start that fails is a StartupError: uvicorn leaves by
    sys.exit inside the loop, which would end asyncio.run with gRPC servers of the same
    process (`conclave up`) still running."""
    try:
        await server.serve()
    except SystemExit:
        if server.started:
            raise
        raise port_unavailable(settings.host, settings.port, "uvicorn could not bind it") from None
