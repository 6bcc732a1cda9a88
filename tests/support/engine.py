"""The bundled model and a small batching scheduler in the test's own process, for tests
that drive the scheduler directly (its decode and sample steps) rather than over gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from conclave.services.engine.llama_model import LlamaModel
from conclave.services.engine.scheduler import BatchScheduler, SchedulerConfig
from conclave.services.model_source import bundled_model, default_cache_dir


@contextmanager
def loaded_bundled_model() -> Iterator[LlamaModel]:
    loaded = LlamaModel(bundled_model(default_cache_dir()).path, repack_weights=False)
    try:
        yield loaded
    finally:
        loaded.close()


@contextmanager
def small_scheduler(model: LlamaModel, slots: int) -> Iterator[BatchScheduler]:
    config = SchedulerConfig(
        slots=slots, context_per_slot=256, threads=2, batch_size=64, prefill_chunk=32, queue_limit=4
    )
    running = BatchScheduler(model, config)
    try:
        yield running
    finally:
        running.close()
