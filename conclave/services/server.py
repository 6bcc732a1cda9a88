"""Wires the agent service: servicer, health, reflection, model loading, graceful drain.

Lifecycle:
  start()  binds the port; health is NOT_SERVING, Generate answers UNAVAILABLE ("loading")
  load()   loads the model in a worker thread; health turns SERVING
  drain()  health NOT_SERVING, new work refused, running generations get `drain_seconds`
           to finish, then the server stops and the model is freed
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from conclave import __version__
from conclave.errors import ConclaveError
from conclave.grpc_server import ServiceHost
from conclave.services.announce import Announcer
from conclave.services.engine.factory import build_pool, check_model_files
from conclave.services.hardware import detect_hardware
from conclave.services.hardware.types import HardwareReport
from conclave.services.servicer import AgentServicer, AgentState
from conclave.services.settings import AgentSettings
from conclave.startup import ExitCode, StartupError
from conclave.swarm_security import SwarmSecurity
from conclave.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name


class AgentServer:
    def __init__(self, settings: AgentSettings, *, hardware: HardwareReport | None = None) -> None:
        self.settings = settings
        self.state = AgentState(hardware=hardware or detect_hardware())
        self.state.idle.set()
        self._announcer: Announcer | None = None
        self._host = ServiceHost(
            SERVICE_NAME,
            options=[("grpc.max_receive_message_length", settings.max_message_bytes)],
            security=SwarmSecurity.from_settings(settings),
        )
        agent_pb2_grpc.add_AgentServiceServicer_to_server(
            AgentServicer(settings, self.state), self._host.server
        )

    @property
    def port(self) -> int | None:
        return self._host.port

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    async def start(self) -> int:
        self._host.bind(self.settings.host, self.settings.port)
        await self._host.set_serving(False)
        await self._host.start()
        log.info("agent %s listening on %s (loading model)", self.settings.name, self.address)
        return self.port

    async def load(self) -> None:
        settings = self.settings
        pool = await asyncio.to_thread(build_pool, settings, self.state.hardware)
        await pool.load_default()
        self.state.engine = pool
        await self._host.set_serving(True)
        model = pool.description
        log.info("agent %s serving %s on %s", settings.name, model.id, self.address)
        if settings.announce:
            stats = pool.stats()
            self._announcer = Announcer(
                name=settings.name,
                host=settings.host,
                port=self.port,
                model=model.id,
                slots=stats.slots_total,
                version=__version__,
                interfaces=settings.announce_interfaces,
            )
            await self._announcer.start()

    def served_models(self) -> list[str]:
        """Ids of the models this agent serves (loaded or on demand); [] before load()."""
        pool = self.state.engine
        return [e.description.id for e in pool.entries()] if pool is not None else []

    def default_model(self) -> str:
        pool = self.state.engine
        return pool.description.id if pool is not None else ""

    async def drain(self) -> None:
        if self.state.draining:
            return
        self.state.draining = True
        if self._announcer is not None:  # leaders drop us before we stop answering
            await self._announcer.close()
        await self._host.set_serving(False)
        if self.state.in_flight:
            log.info("draining: %d generations running", self.state.in_flight)
            try:
                await asyncio.wait_for(self.state.idle.wait(), self.settings.drain_seconds)
            except TimeoutError:
                log.warning("drain timed out; cancelling %d generations", self.state.in_flight)
        await self._host.stop(grace=1.0)
        if self.state.engine is not None:
            engine, self.state.engine = self.state.engine, None
            await asyncio.to_thread(engine.close)
        log.info("agent %s stopped", self.settings.name)

    async def wait_for_termination(self) -> None:
        await self._host.server.wait_for_termination()


async def serve(
    settings: AgentSettings,
    *,
    on_listening: Callable[[str], None] | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Runs one agent service until SIGTERM or SIGINT, then drains. The callbacks get the
    bound address (the CLI prints it, so scripts can start an agent on port 0). A model
    that cannot load is a StartupError, after the server has stopped."""
    try:
        check_model_files(settings)  # a missing file fails before the port is bound
    except ConclaveError as error:
        raise model_unloadable(error) from None
    server = AgentServer(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    # From here the gRPC server runs; it must be stopped on every way out. A grpc.aio
    # server left running when asyncio.run closes its loop keeps the process alive (its
    # shutdown can no longer be scheduled) at 100 % CPU with the port bound.
    try:
        if on_listening:
            on_listening(server.address)
        loader = asyncio.create_task(server.load())
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({loader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if loader in done:
            try:
                loader.result()
            except Exception as error:  # whatever llama.cpp or LiteLLM raise
                log.debug("the model did not load", exc_info=True)
                raise model_unloadable(error) from None
            if on_ready:
                on_ready(server.address)
            await stopper
        else:
            loader.cancel()
    finally:
        await server.drain()


def model_unloadable(error: Exception) -> StartupError:
    return StartupError(
        f"model: {_one_line(error)}; set --model to a GGUF file or a bundled model "
        "(bundled, smollm2-135m-instruct), or fix the models entries of the config file",
        code=ExitCode.MODEL,
    )


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
