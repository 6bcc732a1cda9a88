"""What llama.cpp's kernels allow, with no server around them:
`python -m bench.kernel_worker --rows 1,2,4,8`.

It loads the model as the agent does in its default mode (weights not repacked, ggml's
tiled kernel off, flash attention, a KV stream per sequence), prefills one bench prompt per
sequence, then times `llama_decode` calls of N rows (the next token of N sequences) for
each N and prints `result {"N": tok/s, ...}`: N over the median call time. No sampling, no
gRPC, no Python per token: the ceiling for any batching server on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence

import llama_cpp

from bench.workload import CONTEXT_SIZE, THREADS, model_path, prompt_for
from conclave.services.engine.llama_model import LlamaModel

WARMUP_CALLS = 2
TIMED_CALLS = 16


class RawDecoder:
    def __init__(self, model: LlamaModel, sequences: int) -> None:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = sequences * CONTEXT_SIZE
        params.n_batch = params.n_ubatch = 512
        params.n_seq_max = sequences
        params.n_threads = params.n_threads_batch = THREADS
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        params.kv_unified = False
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(model.handle, params)
        if not self._ctx:
            raise RuntimeError("llama.cpp could not create a context")
        self._batch = llama_cpp.llama_batch_init(512, 0, 1)
        self._next: list[tuple[int, int]] = []  # (token, position) per sequence
        for seq in range(sequences):
            tokens = model.tokenize(prompt_for(seq), add_special=True)
            self._call([(t, i, seq) for i, t in enumerate(tokens)], last_only=True)
            self._next.append((tokens[-1], len(tokens)))

    def _call(self, rows: list[tuple[int, int, int]], *, last_only: bool = False) -> float:
        batch = self._batch
        for i, (token, pos, seq) in enumerate(rows):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = not last_only or i == len(rows) - 1
        batch.n_tokens = len(rows)
        started = time.perf_counter()
        if llama_cpp.llama_decode(self._ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        return time.perf_counter() - started

    def step(self, n: int) -> float:
        """One call holding the next token of sequences 0..n-1; returns its seconds. The
        token fed is the last one again: the compute does not depend on which it is."""
        rows = [(token, pos, seq) for seq, (token, pos) in enumerate(self._next[:n])]
        elapsed = self._call(rows)
        for seq in range(n):
            token, pos = self._next[seq]
            self._next[seq] = (token, pos + 1)
        return elapsed

    def close(self) -> None:
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)


def rates(rows: Sequence[int]) -> dict[int, float]:
    model = LlamaModel(model_path(), repack_weights=False)
    decoder = RawDecoder(model, max(rows))
    try:
        result = {}
        for n in rows:
            for _ in range(WARMUP_CALLS):
                decoder.step(n)
            seconds = statistics.median(decoder.step(n) for _ in range(TIMED_CALLS))
            result[n] = n / seconds
        return result
    finally:
        decoder.close()
        model.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kernel_worker")
    parser.add_argument("--rows", required=True, help="comma-separated row counts")
    args = parser.parse_args(argv)
    rows = [int(n) for n in args.rows.split(",")]
    print("result " + json.dumps({str(n): tps for n, tps in rates(rows).items()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
