"""How each bundled model would be served: its file, chat format and the reason for it.

For `conclave doctor`, before any agent runs: the GGUF's metadata is read without its
weights, and the chat format is chosen exactly as the agent chooses it (default settings).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from conclave.errors import ConclaveError
from conclave.services.engine.chat_format import CompletionFormat, choose_chat_format
from conclave.services.engine.llama_model import identify
from conclave.services.model_source import (
    BUNDLED_MODELS,
    PREFERRED_FORMAT_REASON,
    bundled_model,
    default_cache_dir,
)


@dataclass(frozen=True, slots=True)
class BundledModelReport:
    id: str
    name: str  # what `--model` takes
    description: str
    path: str = ""
    chat_format: str = ""
    reason: str = ""
    demonstrations: tuple[tuple[str, str], ...] = ()
    error: str = ""  # why it cannot be served here (its package is missing, ...)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def bundled_reports(cache_dir: Path | None = None) -> list[BundledModelReport]:
    reports = []
    for model in BUNDLED_MODELS:
        base = {"id": model.id, "name": model.names[0], "description": model.description}
        try:
            file = bundled_model(cache_dir or default_cache_dir(), model)
            choice = choose_chat_format(
                identify(file.path),
                override=file.preferred_chat_format,
                override_reason=PREFERRED_FORMAT_REASON,
            )
        except ConclaveError as error:
            reports.append(BundledModelReport(**base, error=str(error)))
            continue
        demos = (
            tuple((d.user, d.assistant) for d in choice.format.demonstrations)
            if isinstance(choice.format, CompletionFormat)
            else ()
        )
        reports.append(
            BundledModelReport(
                **base,
                path=str(file.path),
                chat_format=choice.format.name,
                reason=choice.reason,
                demonstrations=demos,
            )
        )
    return reports
