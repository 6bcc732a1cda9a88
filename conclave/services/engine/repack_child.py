"""The child of the repack self-test: `python -m conclave.services.engine.repack_child
MODEL THREADS`. It loads MODEL with repacked weights, as the agent's fast mode does, and
decodes a few steps of four sequences in one shared KV pool. Exit 0 is "this CPU decodes
with repacked weights"; a crash (SIGSEGV or SIGILL in a repacked kernel, seen on some
AVX-512 machines) kills only this child, and the agent serves without repacking.
"""

from __future__ import annotations

import sys
from pathlib import Path

import llama_cpp

from conclave.services.engine.llama_model import LlamaModel

SEQUENCES = 4  # repacked kernels work on blocks of four rows: give them whole blocks
STEPS = 4
CONTEXT_PER_SEQUENCE = 128
PROMPT = "The capital of France is"


def decode_a_few_steps(model: LlamaModel, threads: int) -> None:
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = SEQUENCES * CONTEXT_PER_SEQUENCE
    params.n_batch = params.n_ubatch = 64
    params.n_seq_max = SEQUENCES
    params.n_threads = params.n_threads_batch = threads
    params.kv_unified = True  # as the fast mode runs
    params.no_perf = True
    ctx = llama_cpp.llama_init_from_model(model.handle, params)
    if not ctx:
        raise SystemExit("llama.cpp could not create a context")
    batch = llama_cpp.llama_batch_init(64, 0, 1)
    try:
        tokens = model.tokenize(PROMPT, add_special=True)
        rows = [(t, pos, seq) for seq in range(SEQUENCES) for pos, t in enumerate(tokens)]
        position = len(tokens)
        for _ in range(STEPS + 1):
            batch.n_tokens = len(rows)
            for i, (token, pos, seq) in enumerate(rows):
                batch.token[i], batch.pos[i] = token, pos
                batch.n_seq_id[i], batch.seq_id[i][0] = 1, seq
                batch.logits[i] = True
            if llama_cpp.llama_decode(ctx, batch) != 0:
                raise SystemExit("llama_decode failed")
            # Any next token will do: the kernels, not the text, are under test.
            rows = [(tokens[-1], position, seq) for seq in range(SEQUENCES)]
            position += 1
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)


def main(argv: list[str]) -> int:
    path, threads = Path(argv[0]), int(argv[1])
    model = LlamaModel(path, repack_weights=True)
    try:
        decode_a_few_steps(model, threads)
    finally:
        model.close()
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
