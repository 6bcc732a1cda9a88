"""Real servers for tests, each on 127.0.0.1 with a port picked by the OS."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import grpc
import uvicorn

from conclave.gateway.server import build_server
from conclave.gateway.settings import GatewaySettings
from conclave.leader.server import LeaderServer
from conclave.leader.settings import LeaderSettings
from conclave.services.hardware import detect_hardware
from conclave.services.hardware.types import HardwareReport
from conclave.services.server import AgentServer
from conclave.services.settings import AgentSettings
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc


@functools.cache
def hardware() -> HardwareReport:
    """Detected once: the machine does not change within a test session."""
    return detect_hardware()


def agent_settings(**overrides: Any) -> AgentSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "name": "test-agent",
        "slots": 4,
        "context_size": 1024,
        "threads": 2,
        "queue_limit": 8,
        "drain_seconds": 5.0,
    }
    values.update(overrides)
    return AgentSettings(**values)


class LoopThread:
    """An asyncio loop in a thread of its own, so a server keeps serving while a test
    blocks on a synchronous client or runs its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 120.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@functools.cache
def shared_loop() -> LoopThread:
    """Every in-process server of the session runs on this one loop: grpc.aio supports
    a single event loop per process, so servers must not each bring their own."""
    return LoopThread()


class RunningAgent:
    """An AgentServer started (and, unless load=False, loaded) on the shared loop."""

    def __init__(self, settings: AgentSettings, *, load: bool = True) -> None:
        self.settings = settings
        self.thread = shared_loop()
        self.server: AgentServer = self.thread.run(self._make())
        self.port: int = self.thread.run(self.server.start())
        self.address = f"127.0.0.1:{self.port}"
        if load:
            self.load()

    async def _make(self) -> AgentServer:
        return AgentServer(self.settings, hardware=hardware())

    def load(self) -> None:
        self.thread.run(self.server.load(), timeout=300)

    def drain(self) -> None:
        self.thread.run(self.server.drain(), timeout=60)

    def close(self) -> None:
        self.drain()

    def __enter__(self) -> RunningAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def leader_settings(db: Path, **overrides: Any) -> LeaderSettings:
    values: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "db": db}
    values.update(overrides)
    return LeaderSettings(**values)


class RunningLeader:
    """A LeaderServer on the shared loop."""

    def __init__(self, settings: LeaderSettings) -> None:
        self.settings = settings
        self.thread = shared_loop()
        self.server: LeaderServer = self.thread.run(self._make())
        self.port: int = self.thread.run(self.server.start())
        self.address = f"127.0.0.1:{self.port}"

    async def _make(self) -> LeaderServer:
        return LeaderServer(self.settings)

    def close(self) -> None:
        self.thread.run(self.server.stop(grace=0.5))

    def __enter__(self) -> RunningLeader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RunningGateway:
    """The gateway's uvicorn server as a task on the shared loop; `app` replaces the
    settings' own (a gateway over a stand-in leader)."""

    def __init__(self, settings: GatewaySettings, *, app: Any = None) -> None:
        self.settings = settings
        self.thread = shared_loop()
        if app is None:
            self.server = build_server(settings)
        else:
            self.server = uvicorn.Server(
                uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
            )
        self.server.config.install_signal_handlers = False
        self.thread.run(self._start())
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)

    async def _stop(self) -> None:
        self.server.should_exit = True
        await self._task

    def close(self) -> None:
        self.thread.run(self._stop())

    def __enter__(self) -> RunningGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def gateway_settings(leader_address: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "leader": leader_address,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return GatewaySettings(**values)


def wait_for_idle(agent: RunningAgent, within_s: float = 10.0) -> None:
    """The slots of finished or cancelled work are free again shortly after."""
    with grpc.insecure_channel(agent.address) as ch:
        stub = agent_pb2_grpc.AgentServiceStub(ch)
        deadline = time.monotonic() + within_s
        while True:
            info = stub.GetInfo(pb.GetInfoRequest(), timeout=5)
            if info.slots_busy == 0 and info.queue_depth == 0:
                return
            assert time.monotonic() < deadline, f"still busy: {info.slots_busy} slots"
            time.sleep(0.05)
