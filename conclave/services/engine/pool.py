"""Several models behind one agent service, loaded on demand, least recently used first out.

A request names a model (empty: the default). A model that is not loaded is loaded in a
worker thread; when its estimated memory would not fit the budget, idle models are
evicted oldest-use first. A model with requests running is never evicted: if nothing
can make room, the request is refused with RESOURCE_EXHAUSTED rather than the machine
swapping. GetInfo shows what is loaded, when each was last used, and the evictions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace

from conclave.errors import NotFound, Overloaded
from conclave.services.engine.base import Engine
from conclave.services.engine.types import (
    ChatMessage,
    EmbedResult,
    EngineStats,
    GenerationEvent,
    GenerationRequest,
    ModelDescription,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PooledModel:
    """What the pool knows of a model before loading it."""

    id: str
    backend: str
    location: str  # GGUF path or upstream model string (never a credential)
    estimated_bytes: int


@dataclass(frozen=True, slots=True)
class PoolEntry:
    description: ModelDescription
    estimated_bytes: int
    last_used: float  # unix seconds, 0 = never


@dataclass(frozen=True, slots=True)
class PoolStats:
    budget_bytes: int
    used_bytes: int
    evictions: int


class ModelPool:
    def __init__(
        self,
        models: Sequence[PooledModel],
        *,
        default: str,
        budget_bytes: int,
        load: Callable[[str], Engine],
    ) -> None:
        self._models = {m.id: m for m in models}
        if default not in self._models:
            raise ValueError(f"default model {default!r} is not among {list(self._models)}")
        self.default = default
        self._budget = budget_bytes
        self._load = load
        self._loaded: OrderedDict[str, Engine] = OrderedDict()  # oldest use first
        self._last_used: dict[str, float] = {}
        self._in_flight: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self.evictions = 0

    # ---- loading and eviction ---------------------------------------------------------

    async def engine(self, model: str) -> Engine:
        model_id = model or self.default
        if model_id not in self._models:
            raise NotFound(
                f"model {model_id!r} is not served here; models: {', '.join(self._models)}"
            )
        async with self._lock:
            engine = self._loaded.get(model_id)
            if engine is None:
                await self._make_room(model_id)
                log.info("loading model %s", model_id)
                engine = await asyncio.to_thread(self._load, model_id)
                self._loaded[model_id] = engine
            self._loaded.move_to_end(model_id)
            self._last_used[model_id] = time.time()
            return engine

    def _used_bytes(self) -> int:
        return sum(self._models[m].estimated_bytes for m in self._loaded)

    async def _make_room(self, model_id: str) -> None:
        need = self._models[model_id].estimated_bytes
        while self._used_bytes() + need > self._budget:
            idle = [m for m in self._loaded if not self._in_flight.get(m)]
            if not idle:
                if not self._loaded:
                    return  # nothing to evict: try anyway, the budget is an estimate
                raise Overloaded(
                    f"model {model_id} needs ~{need // 2**20} MiB and every loaded model is "
                    "busy; retry when a request finishes"
                )
            victim = idle[0]  # least recently used
            engine = self._loaded.pop(victim)
            self.evictions += 1
            log.info("evicting model %s (least recently used) to load %s", victim, model_id)
            await asyncio.to_thread(engine.close)

    async def load_default(self) -> None:
        await self.engine(self.default)

    # ---- the Engine protocol ----------------------------------------------------------

    backend = "pool"

    @property
    def description(self) -> ModelDescription:
        return self._describe(self.default)

    def _describe(self, model_id: str) -> ModelDescription:
        """The loaded engine's description; for a model not loaded, what its spec tells."""
        engine = self._loaded.get(model_id)
        if engine is not None:
            return engine.description
        spec = self._models[model_id]
        return ModelDescription(
            id=spec.id,
            backend=spec.backend,
            path=spec.location,
            size_bytes=0,
            architecture="",
            context_train=0,
            chat_format="",
            loaded=False,
        )

    def entries(self) -> list[PoolEntry]:
        return [
            PoolEntry(
                description=self._describe(model_id),
                estimated_bytes=spec.estimated_bytes,
                last_used=self._last_used.get(model_id, 0.0),
            )
            for model_id, spec in self._models.items()
        ]

    def pool_stats(self) -> PoolStats:
        return PoolStats(
            budget_bytes=self._budget, used_bytes=self._used_bytes(), evictions=self.evictions
        )

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        engine = await self.engine(request.model)
        model_id = request.model or self.default
        self._in_flight[model_id] = self._in_flight.get(model_id, 0) + 1
        try:
            async for event in engine.generate(replace(request, model="")):
                yield event
        finally:
            self._in_flight[model_id] -= 1
            self._last_used[model_id] = time.time()

    async def embed(self, inputs: Sequence[str], model: str) -> EmbedResult:
        engine = await self.engine(model)
        return await engine.embed(inputs, "")

    def count_tokens(self, messages: Sequence[ChatMessage], prompt: str | None, model: str) -> int:
        model_id = model or self.default
        engine = self._loaded.get(model_id)
        if engine is None:
            if model_id not in self._models:
                raise NotFound(f"model {model_id!r} is not served here")
            engine = self._loaded[self.default]  # an estimate from the default's tokenizer
        return engine.count_tokens(messages, prompt, "")

    def stats(self) -> EngineStats:
        """The default model's scheduler when loaded, else the most recently used one."""
        engine = self._loaded.get(self.default) or next(reversed(self._loaded.values()), None)
        if engine is None:
            return EngineStats(0, 0, 0, 0, 0, 0, 0.0, 0, 0)
        return engine.stats()

    def close(self) -> None:
        for engine in self._loaded.values():
            engine.close()
        self._loaded.clear()
