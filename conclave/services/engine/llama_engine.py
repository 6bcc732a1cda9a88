"""The llama.cpp backend: the asyncio face of one model and its batch scheduler."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from conclave.errors import ConclaveError, InvalidRequest, NotFound
from conclave.services.engine.chat_format import FormattedPrompt, choose_chat_format
from conclave.services.engine.demonstrations import DEFAULT_DEMONSTRATIONS, DEFAULT_PREAMBLE
from conclave.services.engine.embedder import Embedder
from conclave.services.engine.grammar import GrammarCache
from conclave.services.engine.llama_model import LlamaModel
from conclave.services.engine.repack_check import BATCH_INVARIANT, WeightsLayout
from conclave.services.engine.scheduler import BatchScheduler, Job, SchedulerConfig
from conclave.services.engine.types import (
    ChatMessage,
    Demonstration,
    EmbedResult,
    EngineStats,
    Finished,
    GenerationEvent,
    GenerationRequest,
    ModelDescription,
    Started,
)
from conclave.services.engine.validation import RequestLimits, validate_generation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LlamaEngineConfig:
    model_path: Path
    model_id: str
    scheduler: SchedulerConfig
    chat_format: str | None = None
    chat_format_reason: str = "set by chat_format"  # why chat_format is set, when it is
    demonstrations: tuple[Demonstration, ...] = DEFAULT_DEMONSTRATIONS
    preamble: str = DEFAULT_PREAMBLE
    embed_context: int = 512
    max_n: int = 8
    # Fast mode: repacked only after a self-test passed on this CPU (repack_check.py).
    weights: WeightsLayout = BATCH_INVARIANT


class LlamaEngine:
    backend = "llama_cpp"

    def __init__(self, config: LlamaEngineConfig, *, cores: threading.Lock | None = None) -> None:
        """`cores`: held for every llama.cpp compute call, shared by the engines of one
        agent so that two models never compute at once (see BatchScheduler)."""
        cores = cores or threading.Lock()
        self._config = config
        self._model = LlamaModel(config.model_path, repack_weights=config.weights.repacked)
        choice = choose_chat_format(
            self._model.identity,
            override=config.chat_format,
            override_reason=config.chat_format_reason,
            bos_text=self._model.bos_text,
            eos_text=self._model.eos_text,
            demonstrations=config.demonstrations,
            preamble=config.preamble,
        )
        self._chat = choice.format
        self._chat_reason = choice.reason
        self._scheduler = BatchScheduler(self._model, config.scheduler, cores=cores)
        self._grammars = GrammarCache(self._model.vocab)
        self._embedder = Embedder(
            self._model,
            context_size=config.embed_context,
            threads=config.scheduler.threads,
            cores=cores,
        )
        self.limits = RequestLimits(
            max_n=min(config.max_n, config.scheduler.slots),
            context_per_slot=config.scheduler.context_per_slot,
        )
        log.info(
            "loaded %s (%s, %d MiB, chat format %s: %s): %d slots x %d tokens, %d threads",
            config.model_id,
            self._model.architecture,
            self._model.size_bytes // 2**20,
            self._chat.name,
            self._chat_reason,
            config.scheduler.slots,
            config.scheduler.context_per_slot,
            config.scheduler.threads,
        )

    @property
    def description(self) -> ModelDescription:
        return ModelDescription(
            id=self._config.model_id,
            backend=self.backend,
            path=str(self._config.model_path),
            size_bytes=self._model.size_bytes,
            architecture=self._model.architecture,
            context_train=self._model.context_train,
            chat_format=self._chat.name,
            chat_format_reason=self._chat_reason,
            weights=self._config.weights.name,
            weights_reason=self._config.weights.reason,
            demonstrations=getattr(self._chat, "demonstrations", ()),
        )

    def _check_model(self, model: str) -> None:
        if model and model != self._config.model_id:
            raise NotFound(
                f"model {model!r} is not served here; this agent serves {self._config.model_id!r}"
            )

    def _format(self, messages: Sequence[ChatMessage], prompt: str | None) -> FormattedPrompt:
        if messages:
            return self._chat.format(messages)
        return FormattedPrompt(text=prompt or "", stop=())

    def _tokenize(self, formatted: FormattedPrompt) -> list[int]:
        return self._model.tokenize(formatted.text, add_special=formatted.add_bos)

    def count_tokens(self, messages: Sequence[ChatMessage], prompt: str | None, model: str) -> int:
        self._check_model(model)
        return len(self._tokenize(self._format(messages, prompt)))

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        """Streams Started, then Deltas and one Finished per sample.

        Leaving the iteration early (a cancelled RPC) cancels the job: the scheduler drops
        its sequences and frees their slots before its next decode step.
        """
        self._check_model(request.model)
        validate_generation(request, self.limits)
        formatted = self._format(request.messages, request.prompt)
        tokens = self._tokenize(formatted)
        context = self._config.scheduler.context_per_slot
        if len(tokens) >= context:
            raise InvalidRequest(
                f"the prompt has {len(tokens)} tokens but a slot's context holds {context} "
                "(prompt plus at least one generated token)",
                field="messages" if request.messages else "prompt",
            )
        # Compiled here, on the asyncio side: a grammar that does not parse is refused
        # before the request takes a slot or a place in the queue.
        grammar = (
            self._grammars.get(request.constraint, leading_space=formatted.strip_leading_space)
            if request.constraint.active
            else None
        )
        if formatted.stop:
            # A chat format's stops (its turn markers) still end a reply under a grammar:
            # no JSON the schema grammars admit holds a line break (json_grammar.py),
            # so they can never cut one.
            sampling = request.sampling
            stops = tuple(dict.fromkeys((*sampling.stop, *formatted.stop)))
            request = _with_stops(request, stops)

        loop = asyncio.get_running_loop()
        events: asyncio.Queue[GenerationEvent | ConclaveError] = asyncio.Queue()

        def emit(event: GenerationEvent | ConclaveError) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        job = Job(
            request=request,
            prompt_tokens=tokens,
            emit=emit,
            strip_leading_space=formatted.strip_leading_space,
            grammar=grammar,
        )
        self._scheduler.submit(job)
        remaining = request.n
        try:
            yield Started(
                request_id=request.request_id,
                model=self._config.model_id,
                prompt_tokens=len(tokens),
                n=request.n,
            )
            while remaining:
                event = await events.get()
                if isinstance(event, ConclaveError):
                    raise event
                if isinstance(event, Finished):
                    remaining -= 1
                yield event
        finally:
            if remaining:
                self._scheduler.cancel(job)

    async def embed(self, inputs: Sequence[str], model: str) -> EmbedResult:
        self._check_model(model)
        if not inputs:
            raise InvalidRequest("input must hold at least one string", field="input")
        stop = threading.Event()
        try:
            vectors, tokens = await asyncio.to_thread(self._embedder.embed, list(inputs), stop)
        except asyncio.CancelledError:
            # The caller went away: the worker thread cannot be interrupted, but it stops
            # at its next input instead of computing vectors nobody will read.
            stop.set()
            raise
        return EmbedResult(
            vectors=tuple(tuple(v) for v in vectors),
            model=self._config.model_id,
            prompt_tokens=tokens,
        )

    def stats(self) -> EngineStats:
        busy, waiting, rate = self._scheduler.stats()
        cfg = self._config.scheduler
        return EngineStats(
            slots_total=cfg.slots,
            slots_busy=busy,
            queue_depth=waiting,
            queue_limit=cfg.queue_limit,
            context_per_slot=cfg.context_per_slot,
            threads=cfg.threads,
            tokens_per_second=rate,
            requests_total=self._scheduler.requests_total,
            tokens_generated_total=self._scheduler.tokens_generated_total,
            prompt_tokens_cached_total=self._scheduler.prompt_tokens_cached_total,
            prompt_tokens_prefilled_total=self._scheduler.prompt_tokens_prefilled_total,
            embed_inputs_total=self._embedder.inputs_embedded_total,
        )

    def close(self) -> None:
        self._scheduler.close()
        self._embedder.close()
        self._model.close()


def _with_stops(request: GenerationRequest, stops: tuple[str, ...]) -> GenerationRequest:
    return replace(request, sampling=replace(request.sampling, stop=stops))
