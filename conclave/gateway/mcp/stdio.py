"""`conclave mcp`: the MCP tools on stdio, for desktop agents and IDEs that start their
MCP servers as processes. stdout carries the protocol; the log goes to stderr."""

from __future__ import annotations

from conclave.gateway.mcp.settings import McpSettings
from conclave.gateway.mcp.tools import OnEvent, build_server
from conclave.grpc_channels import Channels
from conclave.leader.client import LeaderClient
from conclave.leader.types import RoundRecord, RoundSpec
from conclave.swarm_security import SwarmSecurity


async def serve_stdio(settings: McpSettings) -> None:
    channels = Channels(SwarmSecurity.from_settings(settings))
    leader = LeaderClient(settings.leader, channels=channels)

    async def decide(spec: RoundSpec, on_event: OnEvent) -> RoundRecord:
        return await leader.decide(spec, timeout=settings.request_timeout_s, on_event=on_event)

    try:
        await build_server(leader, settings, decide).run_stdio_async()
    finally:
        await channels.close()
