"""The context the scheduler decodes in gives a row the same logits, bit for bit, alone or
beside another request and in any prefill chunk size, past the 256 tokens from which
ggml's flash attention has other kernels for a lone row and for long chunks
(engine/context_setup.py). With llama.cpp's default F16 cache the same checks differ:
that is what the BF16 cache is for, and it shows these checks can fail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import llama_cpp
import numpy as np
import pytest

from conclave.services.engine.context_setup import context_params
from conclave.services.engine.llama_model import LlamaModel

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TEXT = (
    "The river town has a market on Mondays, a school by the old mill and a grey stone "
    "bridge that people call the long bridge. "
) * 16
POSITION = 300  # the row checked: llama.cpp attends over 512 cells from 257 on
NEIGHBOUR = 40  # the other request's length


class Decoder:
    """A context made from the agent's parameters, decoding rows one call at a time."""

    def __init__(self, model: LlamaModel, params: llama_cpp.llama_context_params) -> None:
        self.ctx = llama_cpp.llama_init_from_model(model.handle, params)
        assert self.ctx
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(512, 0, 1)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(model.vocab)

    def call(self, rows: list[tuple[int, int, int, bool]]) -> list[np.ndarray]:
        """One llama_decode of (token, position, sequence, wants logits) rows."""
        self.batch.n_tokens = len(rows)
        for i, (token, pos, seq, logits) in enumerate(rows):
            self.batch.token[i], self.batch.pos[i] = token, pos
            self.batch.n_seq_id[i], self.batch.seq_id[i][0] = 1, seq
            self.batch.logits[i] = logits
        assert llama_cpp.llama_decode(self.ctx, self.batch) == 0
        return [
            np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(self.ctx, i), (self.n_vocab,)
            ).copy()
            for i, row in enumerate(rows)
            if row[3]
        ]

    def prefill(self, tokens: list[int], seq: int, end: int, chunk: int = 32) -> np.ndarray | None:
        """Tokens [0, end) of `seq` in calls of `chunk`; the last token's logits."""
        self.clear_seq(seq)
        last = None
        for start in range(0, end, chunk):
            rows = [
                (tokens[p], p, seq, p == end - 1) for p in range(start, min(end, start + chunk))
            ]
            last = (self.call(rows) or [last])[0]
        return last

    def clear_seq(self, seq: int) -> None:
        llama_cpp.llama_memory_seq_rm(self.memory, seq, -1, -1)

    def close(self) -> None:
        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)


@contextmanager
def decoder(model: LlamaModel, *, cache_type: int | None = None) -> Iterator[Decoder]:
    params = context_params(
        slots=2,
        context_per_slot=1024,
        capacity=512,
        threads=2,
        batch_invariant=True,
        kv_cache_type=cache_type,
    )
    made = Decoder(model, params)
    try:
        yield made
    finally:
        made.close()


def differences(model: LlamaModel, made: Decoder) -> dict[str, float]:
    """Largest logit difference of the checked row against the row computed alone after
    32-token chunks: decoded beside another request, and prefilled in other chunks."""
    tokens = model.tokenize(TEXT, add_special=True)
    assert len(tokens) > POSITION + 1
    made.prefill(tokens, 1, NEIGHBOUR)
    made.prefill(tokens, 0, POSITION)
    row = (tokens[POSITION], POSITION, 0, True)
    alone = made.call([row])[0]
    made.prefill(tokens, 0, POSITION)
    beside = made.call([row, (tokens[NEIGHBOUR], NEIGHBOUR, 1, True)])[0]
    out = {"beside another request": float(np.abs(beside - alone).max())}
    for chunk in (1, 7, 64, 128):
        chunked = made.prefill(tokens, 0, POSITION + 1, chunk=chunk)
        out[f"prefilled in chunks of {chunk}"] = float(np.abs(chunked - alone).max())
    return out


def test_a_row_has_the_same_logits_alone_beside_others_and_in_any_chunk(in_process_model):
    with decoder(in_process_model) as made:
        assert differences(in_process_model, made) == {
            "beside another request": 0.0,
            "prefilled in chunks of 1": 0.0,
            "prefilled in chunks of 7": 0.0,
            "prefilled in chunks of 64": 0.0,
            "prefilled in chunks of 128": 0.0,
        }


def test_an_f16_cache_would_break_it(in_process_model):
    with decoder(in_process_model, cache_type=llama_cpp.GGML_TYPE_F16) as made:
        found = differences(in_process_model, made)
    # The lone row takes the split kernel; beside another request, or in a chunk of 7,
    # the row kernel; in a chunk of 64 the tiled one. Each rounds differently.
    assert found["beside another request"] > 0
    assert found["prefilled in chunks of 7"] > 0
    assert found["prefilled in chunks of 64"] != found["prefilled in chunks of 7"]
