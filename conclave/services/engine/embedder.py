"""Embeddings from the already-loaded model, in a small context of their own.

A second context shares the weights (no second model copy) and keeps embedding work
out of the generation scheduler's KV cache. It is made on the first Embed call, so an
agent that never embeds never pays for it.
"""

from __future__ import annotations

import threading

import llama_cpp

from conclave.errors import Cancelled, InvalidRequest, Unavailable
from conclave.services.engine.llama_model import LlamaModel


class Embedder:
    def __init__(
        self,
        model: LlamaModel,
        *,
        context_size: int,
        threads: int,
        cores: threading.Lock | None = None,
    ) -> None:
        self._model = model
        self._context_size = context_size
        self._threads = threads
        self._lock = threading.Lock()
        self._cores = cores or threading.Lock()  # shared with the scheduler: one call at a time
        self._ctx: llama_cpp.llama_context_p | None = None
        self._batch: llama_cpp.llama_batch | None = None
        self.inputs_embedded_total = 0  # vectors computed (a cancelled request stops adding)

    def _ensure_context(self) -> llama_cpp.llama_context_p:
        if self._ctx is None:
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = self._context_size
            params.n_batch = self._context_size
            params.n_ubatch = self._context_size
            params.n_seq_max = 1
            params.n_threads = self._threads
            params.n_threads_batch = self._threads
            params.embeddings = True
            params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_MEAN
            params.no_perf = True
            ctx = llama_cpp.llama_init_from_model(self._model.handle, params)
            if not ctx:
                raise Unavailable("llama.cpp could not create the embedding context")
            self._ctx = ctx
            self._batch = llama_cpp.llama_batch_init(self._context_size, 0, 1)
        return self._ctx

    def embed(
        self, texts: list[str], stop: threading.Event | None = None
    ) -> tuple[list[list[float]], int]:
        """Blocking; run it in a worker thread. Returns (vectors, tokens read). Once
        `stop` is set (the caller went away), it gives up at the next input: Cancelled."""
        stop = stop or threading.Event()
        token_lists = []
        for text in texts:
            _check(stop)
            token_lists.append(self._model.tokenize(text, add_special=True, parse_special=False))
        for i, tokens in enumerate(token_lists):
            if len(tokens) > self._context_size:
                raise InvalidRequest(
                    f"input[{i}] has {len(tokens)} tokens; embeddings take at most "
                    f"{self._context_size}",
                    field=f"input[{i}]",
                )
        with self._lock:
            ctx = self._ensure_context()
            memory = llama_cpp.llama_get_memory(ctx)
            vectors = []
            for tokens in token_lists:
                _check(stop)
                vectors.append(self._embed_one(ctx, memory, tokens))
                self.inputs_embedded_total += 1
        return vectors, sum(len(t) for t in token_lists)

    def _embed_one(self, ctx, memory, tokens: list[int]) -> list[float]:
        llama_cpp.llama_memory_clear(memory, True)
        batch = self._batch
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = True
        batch.n_tokens = len(tokens)
        with self._cores:
            failed = llama_cpp.llama_decode(ctx, batch) != 0
        if failed:
            raise Unavailable("llama.cpp failed to compute the embedding")
        pooled = llama_cpp.llama_get_embeddings_seq(ctx, 0)
        return [float(pooled[j]) for j in range(self._model.n_embd)]

    def close(self) -> None:
        with self._lock:
            if self._ctx is not None:
                llama_cpp.llama_batch_free(self._batch)
                llama_cpp.llama_free(self._ctx)
                self._ctx = None


def _check(stop: threading.Event) -> None:
    if stop.is_set():
        raise Cancelled("the caller went away; embedding stopped")
