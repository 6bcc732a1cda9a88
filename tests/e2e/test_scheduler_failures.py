"""The batching scheduler when a decode step fails, on the real bundled model.

A failed `llama_decode` must fail the running jobs and leave the scheduler as it was
before they came: every slot free and every sequence's native sampler chain freed (a
chain left open is native memory lost for good, once per failed step).
"""

from __future__ import annotations

import threading

import pytest

from conclave.errors import Unavailable
from conclave.services.engine.scheduler import Job
from conclave.services.engine.types import Delta, GenerationRequest, SamplingParams
from tests.support.engine import small_scheduler

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SLOTS = 4


@pytest.fixture
def scheduler(in_process_model):
    with small_scheduler(in_process_model, slots=SLOTS) as running:
        yield running


class Events:
    """A job's emit: collects events; tells when deltas started and when it failed."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self.generating = threading.Event()
        self.failed = threading.Event()

    def __call__(self, event: object) -> None:
        self.items.append(event)
        if isinstance(event, Delta):
            self.generating.set()
        elif isinstance(event, Unavailable):
            self.failed.set()


def test_a_failed_decode_step_frees_the_slots_and_closes_every_sampler(in_process_model, scheduler):
    events = Events()
    request = GenerationRequest(
        request_id="fails-mid-stream",
        prompt="The history of the Roman Empire",
        n=2,
        sampling=SamplingParams(max_tokens=200, temperature=0.7, seed=1, ignore_eos=True),
    )
    job = Job(
        request=request,
        prompt_tokens=in_process_model.tokenize(request.prompt, add_special=True),
        emit=events,
    )
    scheduler.submit(job)
    assert events.generating.wait(60), "the job never started generating"

    real_decode = scheduler._decode
    failures = []

    def fail_once(rows):
        if not failures:
            failures.append(len(rows))
            raise RuntimeError("llama_decode returned -1")
        return real_decode(rows)

    scheduler._decode = fail_once  # the next step fails, later ones work again
    assert events.failed.wait(60), "the job was not failed"

    assert len(job.sequences) == 2
    closed = [seq.sampler._chain is None for seq in job.sequences]
    assert closed == [True, True], "a failed step left native sampler chains open"
    busy, waiting, _ = scheduler.stats()
    assert (busy, waiting) == (0, 0)
    assert job.slots == []
