"""Compiled grammars of one model, cached, and the grammar state of one sequence.

Compiling is parsing the GBNF into llama.cpp's rules (and, for a JSON schema, converting
it first). It happens on the asyncio side when a request arrives, so a bad grammar is an
`InvalidRequest` naming its field before the request takes a slot. A compiled grammar is
a template: each sequence decodes with its own clone (`llama_sampler_clone` copies the
parsed rules and the parse state), so the n samples of a request and every other request
advance their grammars independently.

Measured on the bundled Gemma 3 270M (bench `constrained` reports it on every run): a
schema of three fields converts in ~0.5 ms and parses in ~0.1 ms; a clone takes ~0.02 ms.
The cache keeps the `capacity` most recently used grammars, keyed by the constraint as
requested (a hit costs a dict lookup, no conversion); a template lives as long as the
cache or a waiting job holds it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import OrderedDict

import llama_cpp

from conclave.errors import InvalidRequest
from conclave.services.engine import llama_log
from conclave.services.engine.grammar_text import GrammarText, compose
from conclave.services.engine.types import Constraint

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 64
_PARSE_ERROR = "error parsing grammar"


class CompiledGrammar:
    """One parsed grammar; `state()` gives a sequence its own copy."""

    def __init__(self, sampler: llama_cpp.llama_sampler_p, source: GrammarText) -> None:
        self._sampler = sampler
        self.source = source

    def state(self) -> GrammarState:
        return GrammarState(llama_cpp.llama_sampler_clone(self._sampler))

    def __del__(self) -> None:  # the cache and waiting jobs share it: freed with the last
        sampler, self._sampler = self._sampler, None
        if sampler:
            llama_cpp.llama_sampler_free(sampler)


class GrammarState:
    """A sequence's grammar: which tokens may come next, and the tokens so far."""

    def __init__(self, sampler: llama_cpp.llama_sampler_p) -> None:
        self._sampler = sampler
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(
            data=self._one, size=1, selected=-1, sorted=False
        )

    def allows(self, token: int) -> bool:
        """Whether `token` may come next (the grammar judges a one-token candidate list)."""
        one = self._one[0]
        one.id, one.logit, one.p = token, 0.0, 0.0
        self._one_array.size = 1
        llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(self._one_array))
        return one.logit != float("-inf")

    def restrict(self, candidates: ctypes.pointer) -> None:
        """Sets every token the grammar forbids to -inf in a candidate array."""
        llama_cpp.llama_sampler_apply(self._sampler, candidates)

    def accept(self, token: int) -> None:
        """Advances the grammar. Only for a token it `allows`: llama.cpp aborts the
        process on any other (a C++ exception through the C API)."""
        llama_cpp.llama_sampler_accept(self._sampler, token)

    def close(self) -> None:
        sampler, self._sampler = self._sampler, None
        if sampler:
            llama_cpp.llama_sampler_free(sampler)


class GrammarCache:
    """The compiled grammars of one model's vocabulary, least recently used out first."""

    def __init__(self, vocab: llama_cpp.llama_vocab_p, capacity: int = DEFAULT_CAPACITY) -> None:
        self._vocab = vocab
        self._capacity = capacity
        self._lock = threading.Lock()
        # Keyed by the request's constraint, not by the GBNF made of it: a hit then skips
        # the JSON-schema conversion too (most of a compile's cost).
        self._compiled: OrderedDict[tuple[Constraint, bool], CompiledGrammar] = OrderedDict()
        self.compiled_total = 0  # misses: how often a grammar was actually compiled

    def get(self, constraint: Constraint, *, leading_space: bool) -> CompiledGrammar:
        """The compiled grammar of an active constraint; InvalidRequest naming the
        field (`grammar` or `json_schema`) when it does not parse."""
        key = (constraint, leading_space)
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
                return found
        compiled = self._compile(compose(constraint, leading_space=leading_space))
        with self._lock:
            self._compiled[key] = compiled
            self._compiled.move_to_end(key)
            while len(self._compiled) > self._capacity:
                self._compiled.popitem(last=False)
            self.compiled_total += 1
        return compiled

    def _compile(self, source: GrammarText) -> CompiledGrammar:
        with llama_log.captured() as capture:
            sampler = llama_cpp.llama_sampler_init_grammar(
                self._vocab, source.text.encode("utf-8"), source.root.encode()
            )
            capture.failed = not sampler
        if not sampler:
            raise InvalidRequest(_explain(source, capture.lines), field=source.field)
        return CompiledGrammar(sampler, source)


def _explain(source: GrammarText, lines: list[str]) -> str:
    """The parser's own words ("expecting name at ..."), else a generic message."""
    reasons = [line.strip() for line in lines if _PARSE_ERROR in line]
    detail = reasons[0].split(_PARSE_ERROR, 1)[1].lstrip(": ") if reasons else ""
    if not detail:
        detail = next((line.strip() for line in lines if line.strip()), "it does not parse")
    what = "the grammar made of json_schema" if source.field == "json_schema" else "grammar"
    return f"{what} is not valid GBNF: {detail[:300]}"
