"""The reference: llama-cpp-python's own OpenAI server, as a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.procs import ManagedProcess, free_port
from bench.workload import CONTEXT_SIZE, HOST, THREADS

READY_TIMEOUT_S = 180.0


class LlamaServerProcess(ManagedProcess):
    def __init__(self, name: str, log_dir: Path, *, model: Path) -> None:
        self.port = free_port()
        argv = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--n_ctx", str(CONTEXT_SIZE),
            "--n_threads", str(THREADS),
            "--n_threads_batch", str(THREADS),
            # Its default (True) cuts a running request off when the next one arrives.
            "--interrupt_requests", "False",
            "--verbose", "False",
            "--host", HOST,
            "--port", str(self.port),
        ]  # fmt: skip
        super().__init__(name, argv, log_dir)
        self.base_url = f"http://{HOST}:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> str:
        """Polls /v1/models until the model is loaded; returns the base URL."""
        self.wait_http_ok(f"{self.base_url}/v1/models", timeout)
        return self.base_url
