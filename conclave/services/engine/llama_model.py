"""One llama.cpp model, loaded once, through llama-cpp-python's low-level API.

This wrapper owns the model handle and its vocabulary: tokenizing, turning tokens back
into bytes, and reading GGUF metadata. Contexts (the KV caches that decode) are made
from it by the scheduler and the embedder, so several contexts share one copy of the
weights.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import threading
from pathlib import Path

import llama_cpp
import llama_cpp._logger

from conclave.errors import Unavailable
from conclave.services.engine.chat_format import ModelIdentity

log = logging.getLogger(__name__)

_backend_lock = threading.Lock()
_backend_ready = False

# ggml's CPU backend switches K-quant matrix products to a tiled kernel from 8 rows per
# call, and that kernel rounds differently from the one below 8 rows (measured: logits
# moved by up to 2.8, flipping greedy tokens), so a row's result would depend on how many
# other rows share the call. With weights not repacked, every other kernel gives a row
# bit-identical results at any row count (tested from 1 to 16 rows). ggml reads the switch
# once, at its first matrix product, so it is set before any model loads. On this hardware
# the tiled kernel was no faster at 8 rows and 8 % faster at 16. An operator's own value
# wins (and gives up batch invariance).
TILED_KERNEL_SWITCH = "GGML_CPU_TILED_MM"


def row_count_invariant_kernels() -> bool:
    """Whether a row's result is independent of the rows beside it in a llama_decode call
    (ggml parses the switch with atoi: anything without a leading nonzero number is off)."""
    value = re.match(r"\s*[+-]?\d+", os.environ.get(TILED_KERNEL_SWITCH, "0"))
    return value is None or int(value.group()) == 0


def _init_backend() -> None:
    # llama_backend_init is process-wide and must run once before the first model loads.
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            os.environ.setdefault(TILED_KERNEL_SWITCH, "0")
            llama_cpp.llama_backend_init()
            _backend_ready = True


class LlamaModel:
    def __init__(
        self, path: Path, *, repack_weights: bool = True, vocab_only: bool = False
    ) -> None:
        """`vocab_only` reads the metadata and vocabulary without the weights (fast: what
        `conclave doctor` needs to say how a model will be prompted)."""
        _init_backend()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0
        params.vocab_only = vocab_only
        # Repacked weights are faster, but their kernels process rows in blocks of four,
        # so a row's result depends on how many rows share the call.
        params.use_extra_bufts = repack_weights
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not model:
            raise Unavailable(f"llama.cpp could not load the model file {path}")
        self.path = path
        self._model = model
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.n_embd = llama_cpp.llama_model_n_embd(model)
        self.context_train = llama_cpp.llama_model_n_ctx_train(model)
        self.size_bytes = llama_cpp.llama_model_size(model)
        self.architecture = self.metadata("general.architecture") or "unknown"
        self.chat_template = self.metadata("tokenizer.chat_template")
        # What the file says it is: decides between a base model's and a chat format.
        self.names = tuple(
            value
            for key in ("general.name", "general.basename", "general.finetune", "general.tags")
            if (value := self.metadata(key))
        )
        self.bos_text = self._special_text(llama_cpp.llama_vocab_bos(self._vocab))
        self.eos_text = self._special_text(llama_cpp.llama_vocab_eos(self._vocab))
        self._eog_tokens: tuple[int, ...] | None = None

    @property
    def handle(self) -> llama_cpp.llama_model_p:
        return self._model

    @property
    def vocab(self) -> llama_cpp.llama_vocab_p:
        return self._vocab

    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(self.architecture, self.chat_template, self.names)

    def metadata(self, key: str) -> str | None:
        size = 256
        while True:
            buf = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_model_meta_val_str(self._model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", errors="replace")
            size = n + 1

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        tokens = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(
            self._vocab, data, len(data), tokens, capacity, add_special, parse_special
        )
        if n < 0:  # the buffer was too small: n is minus the size needed
            capacity = -n
            tokens = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(
                self._vocab, data, len(data), tokens, capacity, add_special, parse_special
            )
        return list(tokens[:n])

    def token_bytes(self, token: int, *, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def eog_tokens(self) -> tuple[int, ...]:
        """Every end-of-generation token; scanned once, for requests that ignore EOS."""
        if self._eog_tokens is None:
            self._eog_tokens = tuple(t for t in range(self.n_vocab) if self.is_eog(t))
        return self._eog_tokens

    def _special_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.token_bytes(token, special=True).decode("utf-8", errors="replace")

    def close(self) -> None:
        if self._model:
            llama_cpp.llama_model_free(self._model)
            self._model = None


def identify(path: Path) -> ModelIdentity:
    """What a GGUF says about itself, read without loading its weights."""
    model = LlamaModel(path, repack_weights=False, vocab_only=True)
    try:
        return model.identity
    finally:
        model.close()
