"""llama.cpp's C++ `llama-server` as a subprocess, and the two requests the benchmark
sends it: a raw-prompt completion stream and a chat completion stream.

Not to be confused with bench/llama_server.py: that one is llama-cpp-python's Python
`llama_cpp.server`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.clients import checked
from bench.procs import ManagedProcess, free_port
from bench.timing import StreamTiming
from bench.vs_llama_server_report import Reply
from bench.workload import HOST, BenchError
from conclave.services.engine.chat_format import FormattedPrompt

READY_TIMEOUT_S = 180.0
STREAM_TIMEOUT_S = 180.0
# ggml's switch for its tiled K-quant kernel (see conclave/services/engine/llama_model.py):
# the agent turns it off in both of its modes, llama-server leaves it on by default.
TILED_KERNEL_SWITCH = "GGML_CPU_TILED_MM"


@dataclass(frozen=True, slots=True)
class ServerMode:
    """How one llama-server variant runs: its own defaults, or the agent's kernels."""

    repack: bool  # False: --no-repack (plain weights, the agent's default mode)
    flash_attn: str  # "auto" is llama-server's default; the agent's default mode forces "on"
    tiled_kernel: bool  # False: GGML_CPU_TILED_MM=0, as the agent sets
    # KV cache type: the agent's default mode keeps it in bf16 (one attention kernel for
    # every call, conclave/services/engine/context_setup.py); llama-server's default f16.
    cache_type: str

    def describe(self) -> str:
        return (
            f"{'repacked weights' if self.repack else '--no-repack (plain weights)'}, "
            f"-fa {self.flash_attn}, tiled kernel {'on' if self.tiled_kernel else 'off'}, "
            f"{self.cache_type} KV cache"
        )


DEFAULTS = ServerMode(repack=True, flash_attn="auto", tiled_kernel=True, cache_type="f16")
AGENT_KERNELS = ServerMode(repack=False, flash_attn="on", tiled_kernel=False, cache_type="bf16")


def server_argv(
    binary: Path,
    model: Path,
    port: int,
    *,
    slots: int,
    context_per_slot: int,
    threads: int,
    mode: ServerMode,
) -> list[str]:
    """llama-server's command line. `-c` is the whole KV cache: with --parallel N and no
    unified cache, llama-server gives each slot -c / N, so -c = slots × context per slot."""
    return [
        str(binary),
        "--model", str(model),
        "--host", HOST,
        "--port", str(port),
        "--threads", str(threads),
        "--threads-batch", str(threads),
        "--parallel", str(slots),
        "--ctx-size", str(slots * context_per_slot),
        "--no-kv-unified",  # one cache stream per slot, as the agent's default mode
        "--cont-batching",
        "--flash-attn", mode.flash_attn,
        "--cache-type-k", mode.cache_type,
        "--cache-type-v", mode.cache_type,
        *([] if mode.repack else ["--no-repack"]),
    ]  # fmt: skip


class LlamaCppServerProcess(ManagedProcess):
    def __init__(
        self,
        name: str,
        log_dir: Path,
        *,
        binary: Path,
        model: Path,
        slots: int,
        context_per_slot: int,
        threads: int,
        mode: ServerMode,
    ) -> None:
        self.port = free_port()  # llama-server cannot report a port 0 it bound
        argv = server_argv(
            binary,
            model,
            self.port,
            slots=slots,
            context_per_slot=context_per_slot,
            threads=threads,
            mode=mode,
        )
        env = {TILED_KERNEL_SWITCH: "1" if mode.tiled_kernel else "0"}
        super().__init__(name, argv, log_dir, env=env)
        self.mode = mode
        self.base_url = f"http://{HOST}:{self.port}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> str:
        """Polls /health (503 while the model loads); returns the base URL."""
        self.wait_http_ok(f"{self.base_url}/health", timeout)
        return self.base_url

    def slot_context(self) -> int | None:
        """Context per slot as llama-server reports it: n_ctx of /props' slot settings."""
        with httpx.Client(timeout=5.0) as client:
            props = client.get(f"{self.base_url}/props").json()
        settings = props.get("default_generation_settings", {})
        value = settings.get("n_ctx")
        return int(value) if value is not None else None


# ---- requests -----------------------------------------------------------------------------


def completion_body(prompt: str, max_tokens: int) -> dict[str, Any]:
    """A raw prompt, greedy, exactly max_tokens tokens: the agent's stream workload."""
    return {
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "repeat_penalty": 1.0,
        "ignore_eos": True,
        "cache_prompt": True,
        "stream": True,
    }


def prompt_body(prompt: str, stop: Sequence[str], max_tokens: int) -> dict[str, Any]:
    """A prompt rendered by the agent's chat format, greedy, with that format's stops."""
    return {
        "prompt": prompt,
        "stop": list(stop),
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "repeat_penalty": 1.0,
        "cache_prompt": True,  # its default too: said, so a changed default cannot hide
        "stream": True,
    }


def chat_body(messages: Sequence[Mapping[str, str]], max_tokens: int) -> dict[str, Any]:
    return {
        "messages": [dict(m) for m in messages],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "repeat_penalty": 1.0,
        "cache_prompt": True,  # its default too: said, so a changed default cannot hide
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def _events(
    client: httpx.AsyncClient, url: str, body: dict[str, Any]
) -> Any:  # an async iterator of the stream's JSON events
    async with client.stream("POST", url, json=body, timeout=STREAM_TIMEOUT_S) as response:
        if response.status_code != 200:
            text = (await response.aread()).decode(errors="replace")[:300]
            raise BenchError(f"llama-server answered {response.status_code}: {text}")
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue  # blank separators
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                return
            yield json.loads(data)


async def completion_stream(
    client: httpx.AsyncClient, base_url: str, prompt: str, max_tokens: int
) -> StreamTiming:
    """One streamed /v1/completions request; the token count is llama-server's own
    (timings.predicted_n), not a count of chunks."""
    first = end = None
    complete = False
    predicted = 0
    sent = time.monotonic()
    async for event in _events(
        client, f"{base_url}/v1/completions", completion_body(prompt, max_tokens)
    ):
        for choice in event.get("choices", ()):
            if choice.get("text") and first is None:
                first = time.monotonic()
            if choice.get("finish_reason"):
                end = time.monotonic()
                complete = choice["finish_reason"] == "length"
        if "timings" in event:
            predicted = int(event["timings"].get("predicted_n", 0))
    return checked("llama-server", sent, first, end, predicted, complete, max_tokens)


async def chat_stream(
    client: httpx.AsyncClient,
    base_url: str,
    messages: Sequence[Mapping[str, str]],
    max_tokens: int,
) -> Reply:
    """One streamed /v1/chat/completions request: its text, instants and prompt tokens
    prefilled vs taken from its cache (timings.prompt_n / cache_n)."""
    parts: list[str] = []
    first = None
    timings: dict[str, Any] = {}
    usage: dict[str, Any] = {}
    sent = time.monotonic()
    async for event in _events(
        client, f"{base_url}/v1/chat/completions", chat_body(messages, max_tokens)
    ):
        for choice in event.get("choices", ()):
            text = (choice.get("delta") or {}).get("content")
            if text:
                first = first or time.monotonic()
                parts.append(text)
        timings = event.get("timings", timings)
        usage = event.get("usage") or usage
    end = time.monotonic()
    if not timings:
        raise BenchError("llama-server sent no timings: cannot tell prefilled from cached")
    prefilled = int(timings.get("prompt_n", 0))
    cached = int(timings.get("cache_n", 0))
    return Reply(
        text="".join(parts),
        prompt_tokens=prefilled + cached,
        cached_tokens=cached,
        completion_tokens=int(usage.get("completion_tokens", timings.get("predicted_n", 0))),
        sent=sent,
        first=first if first is not None else end,
        end=end,
    )


async def prompt_stream(
    client: httpx.AsyncClient,
    base_url: str,
    prompt: FormattedPrompt,
    max_tokens: int,
) -> Reply:
    """One streamed /v1/completions request of a rendered chat prompt: its text (without
    the leading space the format's reply starts with, as the agent strips it), instants
    and prompt tokens prefilled vs taken from its cache (timings.prompt_n / cache_n)."""
    parts: list[str] = []
    first = None
    timings: dict[str, Any] = {}
    sent = time.monotonic()
    body = prompt_body(prompt.text, prompt.stop, max_tokens)
    async for event in _events(client, f"{base_url}/v1/completions", body):
        for choice in event.get("choices", ()):
            if choice.get("text"):
                first = first or time.monotonic()
                parts.append(choice["text"])
        timings = event.get("timings", timings)
    end = time.monotonic()
    if not timings:
        raise BenchError("llama-server sent no timings: cannot tell prefilled from cached")
    text = "".join(parts)
    if prompt.strip_leading_space and text.startswith(" "):
        text = text[1:]
    prefilled = int(timings.get("prompt_n", 0))
    cached = int(timings.get("cache_n", 0))
    return Reply(
        text=text,
        prompt_tokens=prefilled + cached,
        cached_tokens=cached,
        completion_tokens=int(timings.get("predicted_n", 0)),
        sent=sent,
        first=first if first is not None else end,
        end=end,
    )
