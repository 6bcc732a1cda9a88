"""The grammar cache against the bundled model's real vocabulary: a hit is the same
compiled grammar, whether the request's constraint is the same object or an equal one,
and a grammar that does not compile is never cached."""

from __future__ import annotations

import json

import pytest

from conclave.errors import InvalidRequest
from conclave.services.engine import grammar
from conclave.services.engine.grammar import GrammarCache
from conclave.services.engine.llama_model import LlamaModel
from conclave.services.engine.types import Constraint
from conclave.services.model_source import default_cache_dir, resolve_model

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(scope="module")
def vocab():
    model = LlamaModel(resolve_model(None, default_cache_dir()).path, vocab_only=True)
    yield model.vocab
    model.close()


def test_an_equal_constraint_is_a_hit_without_converting_or_compiling_again(vocab, monkeypatch):
    conversions = []
    real_compose = grammar.compose
    monkeypatch.setattr(
        grammar, "compose", lambda *a, **k: conversions.append(a) or real_compose(*a, **k)
    )
    cache = GrammarCache(vocab)
    first = cache.get(Constraint(json_schema=json.dumps(SCHEMA)), leading_space=False)
    again = cache.get(Constraint(json_schema=json.dumps(SCHEMA)), leading_space=False)
    assert again is first and cache.compiled_total == 1
    assert len(conversions) == 1  # the schema became GBNF once, on the miss
    spaced = cache.get(Constraint(json_schema=json.dumps(SCHEMA)), leading_space=True)
    assert spaced is not first and cache.compiled_total == 2  # another grammar text


def test_the_least_recently_used_grammar_leaves_first(vocab):
    cache = GrammarCache(vocab, capacity=2)
    a, b, c = (Constraint(grammar=f'root ::= "{w}"') for w in ("a", "b", "c"))
    first = cache.get(a, leading_space=False)
    cache.get(b, leading_space=False)
    cache.get(a, leading_space=False)  # a is now the most recent: b leaves for c
    cache.get(c, leading_space=False)
    assert cache.get(a, leading_space=False) is first and cache.compiled_total == 3
    cache.get(b, leading_space=False)
    assert cache.compiled_total == 4


def test_a_grammar_that_does_not_parse_is_refused_every_time_and_never_cached(vocab):
    cache = GrammarCache(vocab)
    for _ in range(2):
        with pytest.raises(InvalidRequest) as refused:
            cache.get(Constraint(grammar="root ::= ("), leading_space=False)
        assert refused.value.field == "grammar"
    assert cache.compiled_total == 0
