"""The greedy fast path (numpy's argmax over a row's logits, sampler.py) picks the token
llama.cpp's own greedy chain picks, on the real bundled model's logits, step by step,
with and without banned end-of-generation tokens."""

from __future__ import annotations

import threading

import llama_cpp
import numpy as np
import pytest

from conclave.services.engine.llama_model import LlamaModel
from conclave.services.engine.sampler import greedy_token, sampler_chain
from conclave.services.engine.scheduler import Job
from conclave.services.engine.types import Finished, GenerationRequest, SamplingParams
from tests.support.engine import small_scheduler

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def scheduler(in_process_model):
    with small_scheduler(in_process_model, slots=2) as running:
        yield running


def reference_chain(model: LlamaModel, banned: tuple[int, ...]) -> llama_cpp.llama_sampler_p:
    """The chain a greedy sequence went through before the fast path: llama.cpp's
    logit-bias sampler for the banned tokens, then its greedy sampler."""
    n_vocab = llama_cpp.llama_vocab_n_tokens(model.vocab)
    return sampler_chain(
        SamplingParams(temperature=0.0), n_vocab=n_vocab, seed=0, banned_tokens=banned
    )


@pytest.mark.parametrize("ignore_eos", [False, True])
def test_every_greedy_step_picks_llamas_greedy_token(in_process_model, scheduler, ignore_eos):
    banned = in_process_model.eog_tokens() if ignore_eos else ()
    chain = reference_chain(in_process_model, banned)
    picked: list[tuple[int, int]] = []
    real_sample = scheduler._sample

    def compared(seq, row):
        expected = llama_cpp.llama_sampler_sample(chain, scheduler._ctx, row)
        token = real_sample(seq, row)
        picked.append((token, expected))
        return token

    scheduler._sample = compared
    done = threading.Event()
    request = GenerationRequest(
        request_id=f"greedy-{ignore_eos}",
        prompt="Question: What is the capital of France?\nAnswer:",
        sampling=SamplingParams(max_tokens=40, temperature=0.0, ignore_eos=ignore_eos),
    )
    job = Job(
        request=request,
        prompt_tokens=in_process_model.tokenize(request.prompt, add_special=True),
        emit=lambda event: done.set() if isinstance(event, Finished) else None,
    )
    try:
        scheduler.submit(job)
        assert done.wait(120), "the generation did not finish"
    finally:
        llama_cpp.llama_sampler_free(chain)
    assert len(picked) >= 5  # the first token is drawn at prefill, not through _sample
    assert [token for token, _ in picked] == [expected for _, expected in picked]


def test_a_banned_highest_logit_gives_the_next_highest() -> None:
    logits = np.array([0.5, 3.0, 3.0, 2.0, -1.0], dtype=np.float32)
    assert greedy_token(logits, np.array([], dtype=np.intp)) == 1  # the first of equals
    assert greedy_token(logits, np.array([1], dtype=np.intp)) == 2
    assert greedy_token(logits, np.array([1, 2], dtype=np.intp)) == 3
    assert logits[1] == 3.0  # the row itself is left as it was
