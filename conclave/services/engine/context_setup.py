"""The llama.cpp context the scheduler decodes in, and the attention settings that keep
a request's output independent of what else the agent is doing.

Matrix products are made row-count invariant process-wide (llama_model.py: ggml's tiled
K-quant kernel off, weights not repacked). What remains is attention, and ggml's CPU
flash attention picks among three kernels by the shape of the call:

- one query row of one sequence over 512 KV cells or more (a request decoding alone
  past 256 tokens: llama.cpp pads the cells it attends over to 256) splits the cells
  between the threads and merges partial sums;
- 64 query rows of one sequence or more (a long prompt chunk) take a tiled kernel;
- everything else computes each query row on its own.

The three round differently (measured on the bundled model: logits moved by up to 1.2),
so the same token would get other logits alone than beside another request, or prefilled
in another chunk size. The first two kernels only run with an F16 or F32 cache; with a
BF16 cache every row takes the third (tests/e2e/test_context_setup.py checks alone,
beside, and chunks from 1 to 128 tokens bit for bit). BF16 keeps F16's memory, and the
quality items were answered as well (bench/kv_cache.py: 173 of 397 greedy answers right,
against 174 with F16, 2 % slower).
"""

from __future__ import annotations

import logging

import llama_cpp

from conclave.services.engine.llama_model import TILED_KERNEL_SWITCH, row_count_invariant_kernels

log = logging.getLogger(__name__)

# ggml.h's GGML_TYPE_BF16 (llama_cpp exports the enum only in part).
GGML_TYPE_BF16 = 30


def context_params(
    *,
    slots: int,
    context_per_slot: int,
    capacity: int,
    threads: int,
    batch_invariant: bool,
    kv_cache_type: int | None = None,
) -> llama_cpp.llama_context_params:
    """Parameters of a context with `slots` sequences of `context_per_slot` tokens that
    decodes up to `capacity` rows a call. `kv_cache_type` replaces the mode's own cache
    type (BF16 batch-invariant, llama.cpp's F16 otherwise): for measuring, not serving."""
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = slots * context_per_slot
    params.n_batch = params.n_ubatch = capacity
    params.n_seq_max = slots
    params.n_threads = params.n_threads_batch = threads
    params.no_perf = True
    if batch_invariant:
        # Attention must also sum a sequence's cells in position order whatever else is
        # in the cache. The flash-attention kernel walks cells in cell order and skips
        # masked ones; a stream per slot keeps each sequence's cells in position order
        # (in one unified pool, cells freed by a finished request are reused out of
        # order, and the sums round differently). Sharing a prompt between the n
        # samples then copies its cells into the sibling streams: cheap for a prompt.
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        params.kv_unified = False
        params.type_k = params.type_v = GGML_TYPE_BF16  # one attention kernel (docstring)
        if not row_count_invariant_kernels():
            log.warning(
                "%s is set to use ggml's tiled kernel: greedy output may differ between "
                "a request alone and the same request under load",
                TILED_KERNEL_SWITCH,
            )
    else:
        params.kv_unified = True  # one pool: a shared prompt is stored once
    if kv_cache_type is not None:
        params.type_k = params.type_v = kv_cache_type
    return params
