"""What llama.cpp's kernels allow, with no server around them:
`python -m bench.kernel_worker --sequences 8`.

It loads the model as the agent does in its default mode (weights not repacked, ggml's
tiled kernel off, flash attention, a KV stream per sequence), prefills one bench prompt per
sequence and prints `ready`. Then for each line `N` on stdin it times `llama_decode` calls
of N rows (the next token of N sequences) and prints `result {"n": N, "tps": X}`: N over
the median call time. No sampling, no gRPC, no Python per token: the ceiling for any
batching server on this machine. Every measurement starts from the same cache (the tokens
it decoded are removed afterwards), so they compare.
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
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(512, 0, 1)
        self._prompts: list[tuple[int, int]] = []  # (last token, length) per sequence
        for seq in range(sequences):
            tokens = model.tokenize(prompt_for(seq), add_special=True)
            self._call([(t, i, seq) for i, t in enumerate(tokens)], last_only=True)
            self._prompts.append((tokens[-1], len(tokens)))
        self._next = list(self._prompts)  # (token, position) to decode next, per sequence

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

    def rewind(self) -> None:
        """Back to the prompts alone: drops every decoded token."""
        for seq, (token, length) in enumerate(self._prompts):
            llama_cpp.llama_memory_seq_rm(self._memory, seq, length, -1)
            self._next[seq] = (token, length)

    def rate(self, n: int) -> float:
        """Tokens/s of calls holding n rows: n over the median call time."""
        for _ in range(WARMUP_CALLS):
            self.step(n)
        seconds = statistics.median(self.step(n) for _ in range(TIMED_CALLS))
        self.rewind()
        return n / seconds

    def close(self) -> None:
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kernel_worker")
    parser.add_argument("--sequences", type=int, required=True, help="most rows per call")
    args = parser.parse_args(argv)
    model = LlamaModel(model_path(), repack_weights=False)
    decoder = RawDecoder(model, args.sequences)
    try:
        decoder.rate(args.sequences)  # warm-up: pages the weights in, builds the graphs
        print("ready", flush=True)
        for line in sys.stdin:
            n = int(line)
            if not 1 <= n <= args.sequences:
                print(f"error rows must be within 1..{args.sequences}", flush=True)
                continue
            print("result " + json.dumps({"n": n, "tps": decoder.rate(n)}), flush=True)
    finally:
        decoder.close()
        model.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
