"""Continuous batching: one llama.cpp context, many sequences, one decode per step.

A dedicated thread owns the context. Each step it
1. admits waiting jobs into free sequence slots (a job with n samples needs n slots),
2. drops cancelled jobs and frees their slots,
3. builds one batch: the next token of every generating sequence, then prompt chunks of
   jobs still prefilling, up to the batch budget (so long prompts never stall streams),
4. calls `llama_decode` once, and samples every row that asked for logits.

The n samples of one job share one prefill: the prompt is decoded into the job's first
slot, then `llama_memory_seq_cp` shares those KV cells with its other slots and each
sample draws its own first token from the same logits row.

A finished job's slots keep their KV cells (`prefix_cache.py`): a later prompt that
starts with the same tokens takes the slot holding the longest shared prefix and
prefills only the rest. A prompt that shares its start with a job still running (the
same question sent to several voices at once) copies those cells from the running job's
first slot once that job has prefilled them, instead of prefilling them again beside it
(`_follow`, `_adopt`).

Prompts are prefilled in chunks of at most `prefill_chunk` tokens per job and step while
other sequences generate, so their streams keep flowing; with none generating, a prompt
takes what the step's budget allows (fewer calls, each of which streams every weight). A
cached prefix may end at any token: the chunk that completes it is a shorter call, and
the cache changes no output (tests/e2e/test_prefix_cache.py checks it token for token, at
many offsets).

Batch invariance (the default) asks nothing of the batching itself: with ggml's tiled
K-quant kernel off (see llama_model.py), weights not repacked and the attention set up in
context_setup.py, a row's logits are the same bits whatever else is in the call and
whatever chunk it is prefilled in.

Events go back to the asyncio side through each job's `emit`, which must be thread-safe.
"""

from __future__ import annotations

import codecs
import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import llama_cpp

from conclave.errors import ConclaveError, InvalidRequest, Overloaded, Unavailable
from conclave.services.engine.admission import (
    MovingAverage,
    QueuedWork,
    RecentMedian,
    estimate,
    job_steps,
)
from conclave.services.engine.context_setup import context_params
from conclave.services.engine.grammar import CompiledGrammar
from conclave.services.engine.llama_model import LlamaModel
from conclave.services.engine.prefix_cache import PrefixCache, common_prefix
from conclave.services.engine.sampler import (
    CandidateBuffer,
    GrammarDeadEnd,
    NativeSampler,
    sample_seed,
)
from conclave.services.engine.stop import StopMatcher
from conclave.services.engine.types import (
    Delta,
    Finished,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    Timings,
    Usage,
)

log = logging.getLogger(__name__)

EmitFn = Callable[[GenerationEvent | ConclaveError], None]

# A prompt follows a running job (copies its cells) only when that saves at least this
# many prefilled tokens: with a KV stream per slot the copy moves the whole stream.
MIN_FOLLOW_TOKENS = 16

# A queued request is admitted only if it is expected to finish within this share of its
# deadline: the estimate runs on averages while the machine's load changes, and a caller
# may give up before its RPC deadline (the leader gives a voice's call 5 s more than the
# voice's own timeout, so that its timeout fires first).
ADMISSION_MARGIN = 0.75


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    slots: int
    context_per_slot: int
    threads: int
    batch_size: int
    prefill_chunk: int
    queue_limit: int
    # Same greedy tokens whether a request runs alone or beside others (see __init__).
    batch_invariant: bool = True
    # Free slots keep their KV cells for a later prompt with the same prefix.
    prefix_cache: bool = True
    # A ggml type for the KV cache instead of the mode's own (context_setup.py): what
    # bench/kv_cache.py compares. Not a setting: other types break batch invariance.
    kv_cache_type: int | None = None


@dataclass(frozen=True, slots=True)
class _Row:
    """One token of a llama_decode call; `owner` wants its logits (None: prompt body)."""

    token: int
    pos: int
    seq_id: int
    owner: _Sequence | Job | None


def step_summary(rows: list[_Row], seconds: float) -> str:
    """One decode call for the debug log: its time, and rows per slot, e.g.
    "74.4 ms, 39 rows, 1 with logits, slot:rows 0:6 2:14 3:19"."""
    per_slot = collections.Counter(row.seq_id for row in rows)
    wanted = sum(1 for row in rows if row.owner is not None)
    slots = " ".join(f"{slot}:{n}" for slot, n in sorted(per_slot.items()))
    return f"{seconds * 1000:.1f} ms, {len(rows)} rows, {wanted} with logits, slot:rows {slots}"


@dataclass(eq=False)
class Job:
    request: GenerationRequest
    prompt_tokens: list[int]
    emit: EmitFn
    submitted_at: float = field(default_factory=time.perf_counter)
    admitted_at: float = 0.0
    prefilled_at: float = 0.0
    prefill_pos: int = 0
    slots: list[int] = field(default_factory=list)
    sequences: list[_Sequence] = field(default_factory=list)
    cancelled: bool = False
    # The prompt ends where the reply's first word would take a space ("Assistant:").
    strip_leading_space: bool = False
    cached_tokens: int = 0  # leading prompt tokens found in KV cells, not prefilled
    # A running job whose first slot will hold this prompt's first `follow_until` tokens:
    # this job waits for them and copies them instead of prefilling them itself.
    donor: Job | None = None
    follow_until: int = 0
    # Constrained decoding: each sample decodes with its own copy of this grammar.
    grammar: CompiledGrammar | None = None

    @property
    def prefilling(self) -> bool:
        return self.prefill_pos < len(self.prompt_tokens)

    def cells_of_first_slot(self) -> int:
        """How many leading prompt tokens the job's first slot holds cells for now."""
        return self.prefill_pos if self.slots else 0


@dataclass(eq=False)
class _Sequence:
    job: Job
    index: int
    slot: int
    sampler: NativeSampler
    stop: StopMatcher
    n_past: int
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    next_token: int = -1
    decoded: list[int] = field(default_factory=list)  # sampled tokens now in the KV cells
    generated: int = 0
    parts: list[str] = field(default_factory=list)
    unsent_tokens: list[int] = field(default_factory=list)
    first_token_at: float = 0.0
    done: bool = False
    at_start: bool = True  # nothing but whitespace decoded yet


class _Throughput:
    """Tokens per second over a sliding window, for GetInfo."""

    def __init__(self, window_s: float = 5.0) -> None:
        self._window = window_s
        self._events: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, now: float, tokens: int) -> None:
        self._events.append((now, tokens))
        while self._events and now - self._events[0][0] > self._window:
            self._events.popleft()

    def rate(self, now: float) -> float:
        while self._events and now - self._events[0][0] > self._window:
            self._events.popleft()
        if not self._events:
            return 0.0
        span = max(now - self._events[0][0], 1e-3)
        return sum(t for _, t in self._events) / span


class BatchScheduler:
    def __init__(
        self,
        model: LlamaModel,
        config: SchedulerConfig,
        *,
        cores: threading.Lock | None = None,
    ) -> None:
        """`cores` is held for each llama_decode call. Several models of one agent share
        one: each call uses every thread, so two models decoding at once would put twice
        the threads on the cores and spin against each other; taking turns step by step
        keeps each call as fast as if it were alone."""
        self._model = model
        self._config = config
        self._cores = cores or threading.Lock()
        # Every generating sequence has a row in each step, so a call holds at least slots.
        self._capacity = max(config.batch_size, config.slots)
        cparams = context_params(
            slots=config.slots,
            context_per_slot=config.context_per_slot,
            capacity=self._capacity,
            threads=config.threads,
            batch_invariant=config.batch_invariant,
            kv_cache_type=config.kv_cache_type,
        )
        self._ctx = llama_cpp.llama_init_from_model(model.handle, cparams)
        if not self._ctx:
            raise Unavailable("llama.cpp could not create a context (out of memory?)")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        # Sliding-window layers (Gemma 3) drop cells older than the window as a sequence
        # grows: a cached prefix is only whole if its window's cells are still there.
        self._window = llama_cpp.llama_model_n_swa(model.handle)
        self._batch = llama_cpp.llama_batch_init(self._capacity, 0, 1)
        self._cond = threading.Condition()
        self._waiting: collections.deque[Job] = collections.deque()
        self._active: list[Job] = []
        self._cache = PrefixCache(config.slots)
        self._candidates: CandidateBuffer | None = None  # made by the first constrained job
        self._stopping = False
        self._throughput = _Throughput()
        # Admission control's measurements (admission.py): seconds per decode step, and
        # the tokens a finished sample had. Written by the decode thread, read by submit.
        self._step_s = RecentMedian(64, least=8)
        self._sample_tokens = MovingAverage(0.1)
        self.requests_total = 0
        self.tokens_generated_total = 0
        self.prompt_tokens_cached_total = 0
        self.prompt_tokens_prefilled_total = 0
        self._thread = threading.Thread(target=self._run, name="conclave-decode", daemon=True)
        self._thread.start()

    # ---- called from the asyncio side -------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._stopping:
                raise Unavailable("the agent service is shutting down")
            queued = self._queued_jobs(extra=job)
            if queued > self._config.queue_limit:
                raise Overloaded(
                    f"all {self._config.slots} slots are busy and "
                    f"{self._config.queue_limit} requests are already queued; retry later"
                )
            if queued and job.request.deadline_s is not None:
                self._refuse_if_too_late(job, job.request.deadline_s)
            self._waiting.append(job)
            self.requests_total += 1
            self._cond.notify()

    def _refuse_if_too_late(self, job: Job, deadline_s: float) -> None:
        """Overloaded at once when `job`, which has to queue, is expected to finish after
        its caller's deadline (admission.py). Called under the lock. Nothing measured yet
        (a fresh agent): admitted, the queue limit still holds."""
        step_s = self._step_s.value
        if step_s is None:
            return
        chunk = self._config.prefill_chunk
        running: list[float] = []
        for active in self._active:
            if active.cancelled:  # reaped, its slots freed, before the next step
                left = 1.0
            elif active.prefilling or not active.sequences:
                left = job_steps(
                    len(active.prompt_tokens) - active.prefill_pos,
                    chunk,
                    self._expected_tokens(active),
                )
            else:  # its slots free together, when its longest sample ends
                left = max(
                    (
                        self._expected_tokens(active) - seq.generated
                        for seq in active.sequences
                        if not seq.done
                    ),
                    default=0.0,
                )
                left = max(left, 1.0)
            running += [left] * len(active.slots)

        # Which slot a queued prompt will get, and so how much of it is cached, is known
        # only at admission: take the share of prompt tokens the cache has served so far
        # (most of a chat prompt is the same demonstrations every time).
        seen = self.prompt_tokens_cached_total + self.prompt_tokens_prefilled_total
        uncached = 1.0 - self.prompt_tokens_cached_total / seen if seen else 1.0

        def work(j: Job) -> QueuedWork:
            prefill = math.ceil(len(j.prompt_tokens) * uncached)
            return QueuedWork(j.request.n, job_steps(prefill, chunk, self._expected_tokens(j)))

        waiting = [work(j) for j in self._waiting if not j.cancelled]
        guess = estimate(
            slots=self._config.slots, running=running, queued=waiting, job=work(job), step_s=step_s
        )
        if guess.finish_s > deadline_s * ADMISSION_MARGIN:
            raise Overloaded(
                f"too busy to answer in time: this request would start in about "
                f"{guess.start_s:.0f} s and finish in about {guess.finish_s:.0f} s, too "
                f"close to the caller's deadline ({deadline_s:.0f} s); retry later",
                retry_after_s=max(1.0, math.ceil(guess.finish_s - deadline_s * ADMISSION_MARGIN)),
            )

    def _expected_tokens(self, job: Job) -> float:
        """Tokens a sample of `job` is expected to generate: the recent average, capped
        by its max_tokens (its max_tokens until a sample has finished, or when it ignores
        end-of-generation tokens and so runs to max_tokens)."""
        sampling = job.request.sampling
        cap = float(sampling.max_tokens)
        seen = self._sample_tokens.value
        if seen is None or sampling.ignore_eos:
            return cap
        return min(cap, max(seen, 1.0))

    def _queued_jobs(self, extra: Job | None = None) -> int:
        """Waiting jobs that cannot start at once (FIFO) — the real queue depth. Jobs that
        fit in free slots count as running even before the decode thread admits them."""
        free = self._cache.free
        queued = 0
        for job in [*self._waiting, *([extra] if extra else [])]:
            if queued == 0 and job.request.n <= free:
                free -= job.request.n
            else:
                queued += 1
        return queued

    def cancel(self, job: Job) -> None:
        with self._cond:
            job.cancelled = True
            if job in self._waiting:  # never started: nothing to free, just forget it
                self._waiting.remove(job)
            self._cond.notify()

    def stats(self) -> tuple[int, int, float]:
        """(slots busy, jobs waiting, tokens/s)."""
        with self._cond:
            busy = self._config.slots - self._cache.free
            return busy, self._queued_jobs(), self._throughput.rate(time.perf_counter())

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=30)
        for job in [*self._waiting, *self._active]:
            job.emit(Unavailable("the agent service shut down before the request finished"))
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)

    # ---- the decode thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._active and not self._waiting:
                    self._cond.wait()
                if self._stopping:
                    return
                self._reap_cancelled()
                self._admit()
            if not self._active:
                continue
            try:
                self._step()
            except Exception:
                # A failed step must not kill the thread: fail what was running, keep serving.
                log.exception("decode step failed; failing the %d active jobs", len(self._active))
                with self._cond:
                    for job in list(self._active):
                        self._release(job, failed=True)
                        job.emit(Unavailable("the model failed while decoding this request"))

    def _admit(self) -> None:
        while self._waiting:
            job = self._waiting[0]
            if job.cancelled:
                self._waiting.popleft()
                continue
            if self._cache.free < job.request.n:
                return  # FIFO: a big job is not starved by smaller ones behind it
            self._waiting.popleft()
            taken = self._cache.take(job.prompt_tokens, job.request.n)
            first, *siblings = taken.slots
            reused = taken.reused if self._whole(first, taken.reused) else 0
            # Keep the shared prefix's cells; the siblings get the prompt copied in.
            llama_cpp.llama_memory_seq_rm(self._memory, first, reused, -1)
            for slot in siblings:
                llama_cpp.llama_memory_seq_rm(self._memory, slot, -1, -1)
            job.slots = taken.slots
            job.prefill_pos = job.cached_tokens = reused
            self.prompt_tokens_cached_total += reused
            self.prompt_tokens_prefilled_total += len(job.prompt_tokens) - reused
            job.admitted_at = time.perf_counter()
            self._follow(job)
            self._active.append(job)

    def _whole(self, slot: int, prefix: int) -> bool:
        """Whether `slot` still holds every cell the token after its first `prefix`
        needs: with a sliding window, the last window's worth (as llama-server checks)."""
        if prefix == 0 or self._window <= 0:
            return True
        oldest = llama_cpp.llama_memory_seq_pos_min(self._memory, slot)
        return 0 <= oldest <= max(0, prefix - self._window)

    def _follow(self, job: Job) -> None:
        """Makes `job` wait for the running job whose prompt shares the longest start
        with it, when that beats what its own slot had cached by MIN_FOLLOW_TOKENS."""
        if not self._config.prefix_cache:
            return
        limit = len(job.prompt_tokens) - 1  # the last token is decoded here: its logits
        best, until = None, job.prefill_pos + MIN_FOLLOW_TOKENS - 1
        for other in self._active:
            if other.cancelled or other.donor is not None or not other.slots:
                continue  # a follower's cells are not there yet; chains are not worth it
            shared = min(common_prefix(other.prompt_tokens, job.prompt_tokens), limit)
            if shared > until:
                best, until = other, shared
        if best is not None:
            job.donor, job.follow_until = best, until

    def _adopt(self, job: Job) -> None:
        """Copies the donor's first `follow_until` prompt cells into `job`'s first slot
        (called between decode calls, while the donor holds them)."""
        donor, until = job.donor, job.follow_until
        assert donor is not None
        src, dst = donor.slots[0], job.slots[0]
        if self._config.batch_invariant:
            # A stream per slot: llama.cpp copies whole streams, then the tail goes.
            llama_cpp.llama_memory_seq_cp(self._memory, src, dst, -1, -1)
            llama_cpp.llama_memory_seq_rm(self._memory, dst, until, -1)
        else:  # one pool: the cells get a second owner, nothing is copied
            llama_cpp.llama_memory_seq_rm(self._memory, dst, -1, -1)
            llama_cpp.llama_memory_seq_cp(self._memory, src, dst, 0, until)
        gained = until - job.prefill_pos
        job.prefill_pos = job.cached_tokens = until
        self.prompt_tokens_cached_total += gained
        self.prompt_tokens_prefilled_total -= gained
        job.donor = None

    def _settle_followers(self, leaving: Job | None = None) -> None:
        """Followers whose donor holds their cells now copy them; a follower whose donor
        is cancelled or `leaving` (being released) before holding them prefills alone."""
        for job in self._active:
            donor = job.donor
            if donor is None:
                continue
            if job.cancelled:
                job.donor = None
            elif donor.slots and donor.cells_of_first_slot() >= job.follow_until:
                if self._whole(donor.slots[0], job.follow_until):
                    self._adopt(job)
                else:  # the donor's window moved past what the follower needs
                    job.donor = None
            elif donor is leaving or donor.cancelled or donor not in self._active:
                job.donor = None

    def _reap_cancelled(self) -> None:
        for job in [j for j in self._active if j.cancelled]:
            for seq in job.sequences:
                if not seq.done:
                    self._finish(seq, FinishReason.CANCELLED)
            self._release(job)

    def _release(self, job: Job, *, failed: bool = False) -> None:
        # A job failed by a decode step was never finished: its native chains must be
        # freed here (closing is idempotent; _finish closed the finished ones already).
        for seq in job.sequences:
            seq.sampler.close()
        keep = self._config.prefix_cache and not failed  # a failed call's cells are unknown
        if keep:  # its followers copy what they wait for before the slot can be reused
            self._settle_followers(leaving=job)
        else:
            for follower in self._active:
                if follower.donor is job:
                    follower.donor = None
        held = self._held_tokens(job) if keep else {}
        for slot in job.slots:
            if not keep:
                llama_cpp.llama_memory_seq_rm(self._memory, slot, -1, -1)
            self._cache.give_back(slot, held.get(slot, []))
        job.slots = []
        if job in self._active:
            self._active.remove(job)

    def _held_tokens(self, job: Job) -> dict[int, list[int]]:
        """The tokens whose KV cells each of the job's slots holds now: the prompt (as
        far as it was prefilled) and every sampled token decoded after it."""
        if not job.sequences:  # cancelled while prefilling: only its first slot has cells
            return {job.slots[0]: job.prompt_tokens[: job.prefill_pos]} if job.slots else {}
        return {seq.slot: [*job.prompt_tokens, *seq.decoded] for seq in job.sequences}

    def _step(self) -> None:
        """One scheduling step: decode every generating sequence, prefill prompt chunks."""
        rows = [
            _Row(seq.next_token, seq.n_past, seq.slot, seq)
            for job in self._active
            for seq in job.sequences
            if not seq.done
        ]
        budget = self._capacity - len(rows)
        # Chunks keep running streams flowing; while nothing generates, a prompt takes
        # as much of the call as there is (fewer calls: each one streams every weight).
        per_job = self._config.prefill_chunk if rows else budget
        with self._cond:
            self._settle_followers()
        for job in self._active:
            if not job.prefilling or job.donor is not None or budget <= 0:
                continue
            start = job.prefill_pos
            chunk = job.prompt_tokens[start : start + min(budget, per_job)]
            last = len(job.prompt_tokens) - 1
            rows.extend(
                _Row(token, start + i, job.slots[0], job if start + i == last else None)
                for i, token in enumerate(chunk)
            )
            job.prefill_pos += len(chunk)
            budget -= len(chunk)
        # llama.cpp splits a batch over per-slot KV streams into one ubatch per run of
        # consecutive sequence ids, in the order the rows come: rows ordered by slot (each
        # slot's own rows keep their order) let every decoding slot share one pass over
        # the weights instead of one pass per slot.
        rows.sort(key=lambda row: row.seq_id)
        began = time.perf_counter()
        generated = self._decode(rows) if rows else 0
        now = time.perf_counter()
        if rows:
            self._step_s.add(now - began)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("step: %s", step_summary(rows, now - began))
        self.tokens_generated_total += generated
        with self._cond:
            self._throughput.add(now, generated)
            for job in [
                j for j in self._active if j.sequences and all(s.done for s in j.sequences)
            ]:
                self._release(job)

    def _decode(self, rows: list[_Row]) -> int:
        """Runs one llama_decode over rows, then samples every row that owns logits.
        Returns how many tokens were sampled."""
        batch = self._batch
        for i, row in enumerate(rows):
            batch.token[i] = row.token
            batch.pos[i] = row.pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = row.seq_id
            batch.logits[i] = row.owner is not None
        batch.n_tokens = len(rows)
        with self._cores:
            rc = llama_cpp.llama_decode(self._ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        now = time.perf_counter()
        sampled = 0
        for i, row in enumerate(rows):
            owner = row.owner
            if isinstance(owner, Job):
                self._start_samples(owner, i, now)
                sampled += len(owner.sequences)
            elif owner is not None:
                owner.n_past += 1
                owner.decoded.append(row.token)
                token = self._sample(owner, i)
                if token is not None:
                    self._accept(owner, token, now)
                sampled += 1
        return sampled

    def _sample(self, seq: _Sequence, row: int) -> int | None:
        """The sequence's next token; None when its grammar allows none (the job fails:
        its grammar cannot be satisfied from here)."""
        try:
            return seq.sampler.sample(self._ctx, row)
        except GrammarDeadEnd as error:
            job = seq.job
            if not job.cancelled:
                job.cancelled = True  # reaped (its slots freed) before the next step
                job.emit(
                    InvalidRequest(
                        f"sample {seq.index} cannot continue: {error} (after "
                        f"{seq.generated} tokens: {''.join(seq.parts)[-80:]!r})",
                        field="json_schema" if job.request.constraint.json_schema else "grammar",
                    )
                )
            seq.done = True
            return None

    def _candidate_buffer(self) -> CandidateBuffer:
        if self._candidates is None:
            self._candidates = CandidateBuffer(self._model.n_vocab)
        return self._candidates

    def _start_samples(self, job: Job, row: int, now: float) -> None:
        """The prompt is in the first slot: share it with the others, draw each first token."""
        job.prefilled_at = now
        request = job.request
        prompt_len = len(job.prompt_tokens)
        banned = self._model.eog_tokens() if request.sampling.ignore_eos else ()
        candidates = self._candidate_buffer() if job.grammar else None
        for index, slot in enumerate(job.slots):
            if slot != job.slots[0]:
                llama_cpp.llama_memory_seq_cp(self._memory, job.slots[0], slot, -1, -1)
            seq = _Sequence(
                job=job,
                index=index,
                slot=slot,
                sampler=NativeSampler(
                    request.sampling,
                    n_vocab=self._model.n_vocab,
                    seed=sample_seed(request.sampling.seed, index),
                    banned_tokens=banned,
                    history=job.prompt_tokens,
                    grammar=job.grammar.state() if job.grammar else None,
                    candidates=candidates,
                    is_eog=self._model.is_eog,
                ),
                stop=StopMatcher(request.sampling.stop),
                n_past=prompt_len,
            )
            job.sequences.append(seq)
            token = self._sample(seq, row)
            if token is not None:
                self._accept(seq, token, now)

    def _accept(self, seq: _Sequence, token: int, now: float) -> None:
        """Handles one sampled token: emit its text, or finish the sequence."""
        if not seq.first_token_at:
            seq.first_token_at = now
        sampling = seq.job.request.sampling
        if not sampling.ignore_eos and self._model.is_eog(token):
            self._finish(seq, FinishReason.STOP)  # the end token itself is not part of the answer
            return
        seq.generated += 1
        seq.unsent_tokens.append(token)
        piece = seq.decoder.decode(self._model.token_bytes(token))
        if seq.at_start and seq.job.strip_leading_space:
            piece = piece.lstrip()
        seq.at_start = seq.at_start and not piece
        text = seq.stop.feed(piece)
        if text:
            self._send(seq, text)
        if seq.stop.stopped:
            self._finish(seq, FinishReason.STOP)
        elif seq.generated >= sampling.max_tokens or seq.n_past >= self._config.context_per_slot:
            # The slot's context is full: the token just sampled has no cell to go into.
            self._finish(seq, FinishReason.LENGTH)
        else:
            seq.next_token = token

    def _send(self, seq: _Sequence, text: str) -> None:
        seq.parts.append(text)
        seq.job.emit(Delta(index=seq.index, text=text, token_ids=tuple(seq.unsent_tokens)))
        seq.unsent_tokens.clear()

    def _finish(self, seq: _Sequence, reason: FinishReason) -> None:
        if reason is not FinishReason.CANCELLED:
            tail = seq.stop.flush() + seq.decoder.decode(b"", final=True)
            if tail:
                self._send(seq, tail)
        seq.done = True
        seq.sampler.close()
        if reason in (FinishReason.STOP, FinishReason.LENGTH):
            self._sample_tokens.add(seq.generated)
        job = seq.job
        end = time.perf_counter()
        first = seq.first_token_at or end
        timings = Timings(
            queue_ms=(job.admitted_at - job.submitted_at) * 1000,
            prefill_ms=((job.prefilled_at or end) - job.admitted_at) * 1000,
            decode_ms=(end - first) * 1000,
            time_to_first_token_ms=(first - job.submitted_at) * 1000,
            total_ms=(end - job.submitted_at) * 1000,
        )
        usage = Usage(
            prompt_tokens=len(job.prompt_tokens),
            completion_tokens=seq.generated,
            cached_tokens=job.cached_tokens,
        )
        job.emit(
            Finished(
                index=seq.index,
                reason=reason,
                text="".join(seq.parts),
                usage=usage,
                timings=timings,
            )
        )
