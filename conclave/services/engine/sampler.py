"""llama.cpp's native sampler chain for one sequence, and its grammar when it has one.

Free sequences: the chain runs in C over the logits of one batch row and returns one
token id; the vocabulary (262k tokens for Gemma 3) never crosses into Python. Greedy
sequences with no repeat penalty skip the chain: llama.cpp's `llama_sampler_sample`
first copies the whole vocabulary into a fresh candidate array (0.65 ms a token here,
3 % of a step for one stream, 5 % for eight), where numpy finds the same first highest
logit in the row in place (0.2 ms a token with the call that fetches the row).

Constrained sequences sample the way llama.cpp's own `common_sampler` does, because
asking the grammar about every token of the vocabulary is slow (~30-50 ms a step on the
bundled model, against ~5 µs for one token): the chain picks a token from the logits;
if the grammar allows it, that is the token. Otherwise the grammar filters the
`WINDOW` most likely tokens (~1.5 ms) and the chain picks again among those it allows;
only when it allows none of them does it filter the whole vocabulary. The resampled
token is the one a grammar-first chain would pick whenever the window holds the tokens
the chain would keep (for greedy decoding: whenever it holds any allowed token). The
candidate array lives in numpy (`CandidateBuffer`), one per decode thread.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import llama_cpp
import numpy as np

from conclave.services.engine.grammar import GrammarState
from conclave.services.engine.types import SamplingParams

RANDOM_SEED = llama_cpp.LLAMA_DEFAULT_SEED
REPEAT_PENALTY_WINDOW = 64
WINDOW = 1024  # most likely tokens the grammar filters before it filters them all
_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")], align=True)
assert _TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)


class GrammarDeadEnd(Exception):
    """The grammar allows no token of the vocabulary: the sequence cannot go on."""


class CandidateBuffer:
    """Every token's logit of one batch row as llama.cpp's candidate array. One per
    decode thread: sampling is sequential there, so the buffer is reused, never shared."""

    def __init__(self, n_vocab: int) -> None:
        self._n_vocab = n_vocab
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._data = np.zeros(n_vocab, dtype=_TOKEN_DATA)
        self._array = llama_cpp.llama_token_data_array(
            data=self._data.ctypes.data_as(llama_cpp.llama_token_data_p),
            size=n_vocab,
            selected=-1,
            sorted=False,
        )
        self.pointer = ctypes.pointer(self._array)

    def load(self, ctx: llama_cpp.llama_context_p, batch_index: int) -> ctypes.pointer:
        """Fills the array from the row's logits (samplers reorder and cut it in place)."""
        logits = llama_cpp.llama_get_logits_ith(ctx, batch_index)
        self._data["id"] = self._ids
        self._data["logit"] = np.ctypeslib.as_array(logits, shape=(self._n_vocab,))
        self._data["p"] = 0.0
        self._array.size = self._n_vocab
        self._array.selected = -1
        self._array.sorted = False
        return self.pointer

    # Read through the array's own pointer: a sampler may point it at a buffer of its own.
    def selected(self) -> int:
        return int(self._array.data[self._array.selected].id)

    def keep_allowed(self) -> int:
        """Drops the candidates a grammar set to -inf; returns how many are left. The
        array is no longer in logit order after that (samplers would trust a stale
        `sorted` flag and keep forbidden tokens)."""
        size = self._array.size
        if size == 0:
            return 0
        rows = np.ctypeslib.as_array(self._array.data, shape=(size,))
        kept = rows[np.isfinite(rows["logit"])]
        rows[: len(kept)] = kept
        self._array.size = len(kept)
        self._array.sorted = False
        return len(kept)


def greedy_token(logits: np.ndarray, banned: np.ndarray) -> int:
    """llama.cpp's greedy choice (the first of the highest logits) after its logit-bias
    sampler set `banned` to -inf; `logits` is read, never written."""
    token = int(logits.argmax())
    if banned.size and token in banned:
        allowed = logits.copy()
        allowed[banned] = -np.inf
        token = int(allowed.argmax())
    return token


def sample_seed(seed: int | None, index: int) -> int:
    """Sample i of a seeded request uses seed + i, so each sample differs and all repeat."""
    if seed is None:
        return RANDOM_SEED
    return (seed + index) % RANDOM_SEED


def ban_sampler(n_vocab: int, banned_tokens: tuple[int, ...]) -> llama_cpp.llama_sampler_p:
    """llama.cpp's logit-bias sampler that sets `banned_tokens` to -inf."""
    biases = (llama_cpp.llama_logit_bias * len(banned_tokens))()
    for slot, token in zip(biases, banned_tokens, strict=True):
        slot.token = token
        slot.bias = float("-inf")
    return llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(banned_tokens), biases)


def sampler_chain(
    params: SamplingParams, *, n_vocab: int, seed: int, banned_tokens: tuple[int, ...] = ()
) -> llama_cpp.llama_sampler_p:
    """llama.cpp's sampler chain for `params` (the caller frees it)."""
    chain_params = llama_cpp.llama_sampler_chain_default_params()
    chain_params.no_perf = True
    chain = llama_cpp.llama_sampler_chain_init(chain_params)

    def add(sampler: llama_cpp.llama_sampler_p) -> None:
        llama_cpp.llama_sampler_chain_add(chain, sampler)

    if banned_tokens:
        add(ban_sampler(n_vocab, banned_tokens))
    if params.repeat_penalty != 1.0:
        add(
            llama_cpp.llama_sampler_init_penalties(
                n_vocab, REPEAT_PENALTY_WINDOW, params.repeat_penalty, 0.0, 0.0
            )
        )
    if params.greedy:
        add(llama_cpp.llama_sampler_init_greedy())
    else:
        if params.top_k > 0:
            add(llama_cpp.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            add(llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            add(llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        add(llama_cpp.llama_sampler_init_temp(params.temperature))
        add(llama_cpp.llama_sampler_init_dist(seed))
    return chain


class NativeSampler:
    def __init__(
        self,
        params: SamplingParams,
        *,
        n_vocab: int,
        seed: int,
        banned_tokens: tuple[int, ...] = (),
        history: list[int] | None = None,
        grammar: GrammarState | None = None,
        candidates: CandidateBuffer | None = None,
        is_eog: Callable[[int], bool] = lambda token: False,
    ) -> None:
        """With `grammar`, `candidates` (the decode thread's buffer) is required and
        `is_eog` tells the end-of-generation tokens, which never advance the grammar."""
        if grammar is not None and candidates is None:
            raise ValueError("a constrained sampler needs the decode thread's CandidateBuffer")
        self._grammar = grammar
        self._candidates = candidates
        self._is_eog = is_eog
        # These need no chain (its logit bias and greedy samplers would keep no state): the
        # token is the first highest logit once the banned tokens are at -inf.
        self._argmax = grammar is None and params.greedy and params.repeat_penalty == 1.0
        self._n_vocab = n_vocab
        self._banned = np.array(banned_tokens, dtype=np.intp)
        self._window = llama_cpp.llama_sampler_init_top_k(WINDOW) if grammar else None
        self._chain = (
            None
            if self._argmax
            else sampler_chain(params, n_vocab=n_vocab, seed=seed, banned_tokens=banned_tokens)
        )
        # The repeat penalty should see the end of the prompt too, as llama.cpp's server does.
        if history and params.repeat_penalty != 1.0:  # a penalty means a chain (no argmax)
            for token in history[-REPEAT_PENALTY_WINDOW:]:
                llama_cpp.llama_sampler_accept(self._chain, token)

    def sample(self, ctx: llama_cpp.llama_context_p, batch_index: int) -> int:
        """Samples from the logits of one batch row and records the choice in the chain
        (and in the grammar; a greedy argmax has nothing to record); GrammarDeadEnd when
        the grammar allows nothing."""
        if self._argmax:
            logits = llama_cpp.llama_get_logits_ith(ctx, batch_index)
            return greedy_token(np.ctypeslib.as_array(logits, shape=(self._n_vocab,)), self._banned)
        if self._grammar is None:
            return llama_cpp.llama_sampler_sample(self._chain, ctx, batch_index)
        token = self._constrained(ctx, batch_index)
        llama_cpp.llama_sampler_accept(self._chain, token)
        if not self._is_eog(token):  # the end token ends a complete grammar; nothing to add
            self._grammar.accept(token)
        return token

    def _constrained(self, ctx: llama_cpp.llama_context_p, batch_index: int) -> int:
        grammar, buffer = self._grammar, self._candidates
        assert grammar is not None and buffer is not None
        llama_cpp.llama_sampler_apply(self._chain, buffer.load(ctx, batch_index))
        token = buffer.selected()
        if grammar.allows(token):
            return token
        candidates = buffer.load(ctx, batch_index)
        llama_cpp.llama_sampler_apply(self._window, candidates)
        grammar.restrict(candidates)
        if not buffer.keep_allowed():
            candidates = buffer.load(ctx, batch_index)
            grammar.restrict(candidates)
            if not buffer.keep_allowed():
                raise GrammarDeadEnd("the grammar allows no token here")
        llama_cpp.llama_sampler_apply(self._chain, candidates)
        token = buffer.selected()
        if not grammar.allows(token):  # a chain that keeps forbidden tokens: never accept one
            raise GrammarDeadEnd(f"the sampler chose token {token}, which the grammar forbids")
        return token

    def close(self) -> None:
        if self._chain:
            llama_cpp.llama_sampler_free(self._chain)  # frees the samplers it owns too
            self._chain = None
        if self._window:
            llama_cpp.llama_sampler_free(self._window)
            self._window = None
        if self._grammar is not None:
            self._grammar.close()
            self._grammar = None
