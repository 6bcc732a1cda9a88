"""Conclave's agent service as a real subprocess, exactly as a user starts it, and the
same settings for an engine built in this process."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import grpc

from bench.procs import ManagedProcess
from bench.workload import CONTEXT_SIZE, HOST, THREADS, BenchError
from conclave.services.engine.factory import build_llama_engine
from conclave.services.engine.llama_engine import LlamaEngine
from conclave.services.hardware import detect_hardware
from conclave.services.model_source import resolve_model
from conclave.services.settings import AgentSettings
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

READY_TIMEOUT_S = 180.0
READY_PREFIX = "conclave agent ready on "
INFO_TIMEOUT_S = 30.0

log = logging.getLogger(__name__)


def agent_settings(
    name: str, *, slots: int, batch_invariant: bool = True, prefix_cache: bool = True
) -> AgentSettings:
    """One place for the benchmark's service settings: the subprocess gets them as flags
    and environment, the in-process engine as this object, so both schedule alike."""
    return AgentSettings(
        host=HOST,
        port=0,
        name=name,
        slots=slots,
        threads=THREADS,
        context_size=CONTEXT_SIZE,
        queue_limit=max(16, slots),
        batch_invariant=batch_invariant,
        prefix_cache=prefix_cache,
        log_level="WARNING",  # per-request logging is not what we measure
    )


def in_process_engine(settings: AgentSettings) -> LlamaEngine:
    """Conclave's engine built exactly as the service builds it from these settings."""
    model = resolve_model(settings.model, settings.model_cache_dir)
    return build_llama_engine(settings, model, detect_hardware())


def conclave_command() -> list[str]:
    """The `conclave` console script of this interpreter's environment (what `make run`
    uses), or the same entry point through `-m` when the script is not installed."""
    script = Path(sys.executable).parent / "conclave"
    if script.is_file():
        return [str(script)]
    found = shutil.which("conclave")
    return [found] if found else [sys.executable, "-m", "conclave.cli.main"]


class AgentProcess(ManagedProcess):
    def __init__(self, settings: AgentSettings, log_dir: Path) -> None:
        argv = [
            *conclave_command(),
            "agent",
            "--host", settings.host,
            "--port", str(settings.port),
            "--name", settings.name,
            "--slots", str(settings.slots),
            "--threads", str(settings.threads),
            "--context-size", str(settings.context_size),
            "--queue-limit", str(settings.queue_limit),
            "--log-level", settings.log_level,
            *(["--config", str(settings.config_file)] if settings.config_file else []),
        ]  # fmt: skip
        # No flags for these. Set both ways, so a stray variable in the caller's
        # environment cannot swap the mode.
        env = {
            "CONCLAVE_AGENT_BATCH_INVARIANT": str(settings.batch_invariant).lower(),
            "CONCLAVE_AGENT_PREFIX_CACHE": str(settings.prefix_cache).lower(),
        }
        super().__init__(settings.name, argv, log_dir, env=env)
        self.settings = settings
        self.address = ""
        # Which weights actually ran ("repacked" or "plain", and why), from GetInfo once
        # the agent is ready: fast mode falls back to plain weights when the repack
        # self-test fails on this CPU, so the settings alone do not say.
        self.weights = ""

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> str:
        """Blocks until the model is loaded; returns HOST:PORT."""
        line = self.wait_for_line(READY_PREFIX, timeout, what="'ready' line")
        self.address = line.removeprefix(READY_PREFIX).strip()
        if not self.address:
            raise BenchError(f"{self.name}: cannot read the address from {line!r}")
        self.weights = self._weights()
        log.info("%s: weights %s", self.name, self.weights)
        return self.address

    def _weights(self) -> str:
        try:
            with grpc.insecure_channel(self.address) as channel:
                stub = agent_pb2_grpc.AgentServiceStub(channel)
                model = stub.GetInfo(pb.GetInfoRequest(), timeout=INFO_TIMEOUT_S).model
        except grpc.RpcError as error:
            raise BenchError(f"{self.name}: GetInfo failed: {error}") from None
        return f"{model.weights or 'unknown'} ({model.weights_reason or 'no reason given'})"
