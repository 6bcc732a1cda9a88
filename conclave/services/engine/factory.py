"""Builds the engine a deployment asked for, filling unset sizes from the hardware."""

from __future__ import annotations

import importlib.metadata
import logging
import threading
from dataclasses import dataclass, replace

from conclave.errors import NotFound
from conclave.services.engine.base import Engine
from conclave.services.engine.llama_engine import LlamaEngine, LlamaEngineConfig
from conclave.services.engine.pool import ModelPool, PooledModel
from conclave.services.engine.repack_check import weights_layout
from conclave.services.engine.scheduler import SchedulerConfig
from conclave.services.engine.types import Demonstration
from conclave.services.hardware.types import HardwareReport
from conclave.services.model_source import (
    BUNDLED_MODELS,
    PREFERRED_FORMAT_REASON,
    ModelFile,
    bundled_by_name,
    model_path,
    resolve_model,
)
from conclave.services.recommend import MODEL_CLASSES, default_threads, memory_basis, slots_for
from conclave.services.settings import AgentSettings, ModelEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServingSize:
    slots: int
    context_per_slot: int
    threads: int


def serving_size(settings: AgentSettings, model: ModelFile, hw: HardwareReport) -> ServingSize:
    """Explicit settings win. Otherwise: the model class of the recommendation table whose
    file size is nearest this model's (the bundled model is its own class) sets the
    context per slot and the KV estimate, and the slots are what is left of the memory."""
    size = model.path.stat().st_size
    model_class = min(MODEL_CLASSES, key=lambda c: abs(c.approx_model_bytes - size))
    available = memory_basis(hw).available_bytes
    return ServingSize(
        slots=settings.slots or slots_for(model_class, available),
        context_per_slot=settings.context_size or model_class.context_per_slot,
        threads=settings.threads or default_threads(hw),
    )


def build_llama_engine(
    settings: AgentSettings,
    model: ModelFile,
    hw: HardwareReport,
    *,
    cores: threading.Lock | None = None,
) -> LlamaEngine:
    return LlamaEngine(llama_engine_config(settings, model, hw), cores=cores)


def llama_engine_config(
    settings: AgentSettings, model: ModelFile, hw: HardwareReport
) -> LlamaEngineConfig:
    """How the agent serves `model` with `settings` on `hw` (the repack self-test runs
    here when the fast mode asks for repacked weights)."""
    size = serving_size(settings, model, hw)
    chat_format, reason = settings.chat_format, "set by chat_format"
    if chat_format is None and model.preferred_chat_format:
        chat_format = model.preferred_chat_format
        reason = PREFERRED_FORMAT_REASON
    weights = weights_layout(
        model.path,
        batch_invariant=settings.batch_invariant,
        cpu_model=hw.cpu_model,
        threads=size.threads,
        verdicts_dir=settings.model_cache_dir,
    )
    return LlamaEngineConfig(
        model_path=model.path,
        weights=weights,
        model_id=model.id,
        chat_format=chat_format,
        chat_format_reason=reason,
        demonstrations=tuple(Demonstration(d.user, d.assistant) for d in settings.demonstrations),
        preamble=settings.chat_preamble,
        embed_context=settings.embed_context,
        max_n=settings.max_n,
        scheduler=SchedulerConfig(
            slots=size.slots,
            context_per_slot=size.context_per_slot,
            threads=size.threads,
            batch_size=settings.batch_size,
            prefill_chunk=min(settings.prefill_chunk, settings.batch_size),
            queue_limit=settings.queue_limit,
            batch_invariant=settings.batch_invariant,
            prefix_cache=settings.prefix_cache,
        ),
    )


def model_entries(settings: AgentSettings) -> list[ModelEntry]:
    """The models this agent serves: `models`, then every GGUF of `models_dir`; with
    neither, the one model of the top-level settings; with no model named either, every
    bundled model that is installed, the default (Gemma) first."""
    entries = list(settings.models)
    if settings.models_dir is not None:
        taken = {e.id for e in entries}
        for path in sorted(settings.models_dir.glob("*.gguf")):
            if path.stem not in taken:
                entries.append(ModelEntry(id=path.stem, path=str(path)))
    if entries:
        return entries
    if settings.backend == "litellm":
        if not settings.upstream:
            raise ValueError("the litellm backend needs `upstream` (a LiteLLM model string)")
        return [
            ModelEntry(
                id=settings.upstream,
                backend="litellm",
                upstream=settings.upstream,
                api_base=settings.api_base,
                api_key=settings.api_key,
                context_size=settings.context_size,
            )
        ]
    if settings.model:
        return [ModelEntry(id="", path=settings.model)]  # id filled from the file below
    return [
        ModelEntry(id=m.id, path=m.id)
        for m in BUNDLED_MODELS
        if m is BUNDLED_MODELS[0] or _installed(m.package)
    ]


def _installed(package: str) -> bool:
    try:
        importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        log.info("bundled model package %s is not installed; not serving it", package)
        return False
    return True


def check_model_files(settings: AgentSettings) -> None:
    """NotFound for a named GGUF file that does not exist: the quick part of
    `build_pool`'s resolution, which an agent runs before it binds its port."""
    if settings.models_dir is not None and not settings.models_dir.is_dir():
        # Otherwise its (absent) GGUFs would silently give way to the bundled models.
        raise NotFound(f"--models-dir {settings.models_dir} is not a directory")
    for entry in model_entries(settings):
        if entry.backend == "llama_cpp" and entry.path and bundled_by_name(entry.path) is None:
            model_path(entry.path)


def build_pool(settings: AgentSettings, hw: HardwareReport) -> ModelPool:
    """Resolves every entry up front (so a missing file fails at start-up, not on the
    first request) and loads models on demand, within the memory budget. The llama.cpp
    models share one lock on the cores: they take turns per decode step."""
    cores = threading.Lock()
    resolved: dict[str, tuple[ModelEntry, ModelFile | None]] = {}
    for entry in model_entries(settings):
        if entry.backend == "litellm":
            if not entry.upstream:
                raise ValueError(f"model {entry.id}: the litellm backend needs `upstream`")
            resolved[entry.id or entry.upstream] = (entry, None)
            continue
        file = resolve_model(entry.path, settings.model_cache_dir)
        model_id = entry.id or file.id
        resolved[model_id] = (entry, replace(file, id=model_id))

    def estimate(entry: ModelEntry, file: ModelFile | None) -> int:
        if file is None:
            return 0  # remote: costs this blade nothing but a connection
        size = serving_size(_entry_settings(settings, entry), file, hw)
        model_class = min(
            MODEL_CLASSES, key=lambda c: abs(c.approx_model_bytes - file.path.stat().st_size)
        )
        kv = size.slots * size.context_per_slot * model_class.kv_bytes_per_token
        return file.path.stat().st_size + kv

    def load(model_id: str) -> Engine:
        entry, file = resolved[model_id]
        if file is None:
            # Imported only for a LiteLLM model: importing litellm takes seconds, which
            # every agent's start-up (and its failures) would otherwise wait for.
            from conclave.services.engine.litellm_engine import LiteLLMConfig, LiteLLMEngine

            return LiteLLMEngine(
                LiteLLMConfig(
                    model_id=model_id,
                    upstream=entry.upstream or "",
                    api_base=entry.api_base,
                    api_key=entry.api_key.get_secret_value() if entry.api_key else None,
                    max_concurrent=entry.max_concurrent,
                    context_size=entry.context_size or 4096,
                    max_n=settings.max_n,
                )
            )
        return build_llama_engine(_entry_settings(settings, entry), file, hw, cores=cores)

    models = [
        PooledModel(
            id=model_id,
            backend=entry.backend,
            location=entry.upstream if file is None else str(file.path),
            estimated_bytes=estimate(entry, file),
        )
        for model_id, (entry, file) in resolved.items()
    ]
    budget = settings.memory_budget_bytes
    if budget is None:
        budget = int(memory_basis(hw).available_bytes * 0.8)
    default = settings.default_model or next(iter(resolved))
    return ModelPool(models, default=default, budget_bytes=budget, load=load)


def _entry_settings(settings: AgentSettings, entry: ModelEntry) -> AgentSettings:
    overrides = {
        k: v
        for k, v in (
            ("slots", entry.slots),
            ("context_size", entry.context_size),
            ("chat_format", entry.chat_format),
        )
        if v is not None
    }
    return settings.model_copy(update=overrides)
