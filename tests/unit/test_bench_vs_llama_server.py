"""vs_llama_server's pure logic: llama-server's command line, the build cache's key, the
round workload's prompts, the parsing of llama-server's streams, and the tables/targets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from bench.concurrency_report import Burst
from bench.llama_cpp_build import CMAKE_FLAGS, _cmake_cache, cpu_features, flags_digest, locate
from bench.llama_cpp_server import (
    AGENT_KERNELS,
    DEFAULTS,
    LlamaCppServerProcess,
    chat_stream,
    completion_stream,
    prompt_body,
    prompt_stream,
    server_argv,
)
from bench.round_workload import as_dicts, critique_turn, first_turn, render, voices
from bench.timing import StreamTiming
from bench.vs_llama_server_report import (
    AGENT,
    AGENT_FAST,
    SERVER,
    SERVER_PLAIN,
    Reply,
    RoundSample,
    cpu_features_notes,
    hit_rate,
    median_ttft_ms,
    paired_round_ratio,
    rounds_table,
    streams_table,
    targets,
)
from bench.workload import BenchError
from conclave.services.engine.chat_format import CompletionFormat, FormattedPrompt

VARIANTS = (AGENT, AGENT_FAST, SERVER, SERVER_PLAIN)


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


# ---- llama-server's command line and build cache -------------------------------------------


def test_context_flag_is_slots_times_context_per_slot():
    argv = server_argv(
        Path("/x/llama-server"),
        Path("/m.gguf"),
        8123,
        slots=8,
        context_per_slot=1024,
        threads=2,
        mode=DEFAULTS,
    )
    assert _flag(argv, "--ctx-size") == "8192"  # llama-server splits it across slots
    assert _flag(argv, "--parallel") == "8"
    assert _flag(argv, "--threads") == _flag(argv, "--threads-batch") == "2"
    assert _flag(argv, "--host") == "127.0.0.1"
    assert "--cont-batching" in argv


def test_only_the_plain_mode_turns_repacking_off():
    common = dict(slots=4, context_per_slot=512, threads=2)
    default = server_argv(Path("b"), Path("m"), 1, mode=DEFAULTS, **common)  # type: ignore[arg-type]
    plain = server_argv(Path("b"), Path("m"), 1, mode=AGENT_KERNELS, **common)  # type: ignore[arg-type]
    assert "--no-repack" not in default
    assert "--no-repack" in plain
    assert _flag(default, "--flash-attn") == "auto"
    assert _flag(plain, "--flash-attn") == "on"
    # The agent's default mode keeps its KV cache in bf16 (engine/context_setup.py).
    assert _flag(default, "--cache-type-k") == _flag(default, "--cache-type-v") == "f16"
    assert _flag(plain, "--cache-type-k") == _flag(plain, "--cache-type-v") == "bf16"


def test_the_tiled_kernel_switch_follows_the_mode(tmp_path: Path):
    def env_of(mode):  # the environment the subprocess would get
        proc = LlamaCppServerProcess(
            "s",
            tmp_path,
            binary=Path("b"),
            model=Path("m"),
            slots=1,
            context_per_slot=64,
            threads=1,
            mode=mode,
        )
        return proc._env["GGML_CPU_TILED_MM"]

    assert env_of(DEFAULTS) == "1"
    assert env_of(AGENT_KERNELS) == "0"


def test_cpu_features_are_read_from_a_system_info_line():
    log = (
        "0.00.007 I cmn  common_param: verbosity = 4\n"
        "0.00.007 I cmn  common_param: system_info: n_threads = 2 (n_threads_batch = 2) / 2"
        " | CPU : AVX2 = 1 | AVX512 = 1 | \n"
        "0.00.008 E load: failed to open /nonexistent.gguf\n"
    )
    assert cpu_features(log) == "CPU : AVX2 = 1 | AVX512 = 1 |"
    assert cpu_features("no such line") is None


def test_the_notes_say_whether_both_builds_have_the_same_cpu_features():
    same = cpu_features_notes("CPU : AVX2 = 1 |", "CPU : AVX2 = 1 | ")
    other = cpu_features_notes("CPU : AVX2 = 1 | AVX512 = 1 |", "CPU : AVX2 = 1 |")
    assert same[-1] == "The two builds' CPU features are the same."
    assert "DIFFERENT" in other[-1]


def test_the_build_cache_is_keyed_by_version_and_flags(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a = locate("0.3.36")
    b = locate("0.3.36", flags=(*CMAKE_FLAGS, "-DGGML_NATIVE=OFF"))
    assert a.root != b.root
    assert a.root.name == f"0.3.36-{flags_digest(CMAKE_FLAGS)}"
    assert a.binary == a.root / "build" / "bin" / "llama-server"
    assert a.root.is_relative_to(tmp_path / "conclave-bench" / "llama-server")
    assert not a.ready  # nothing built there


def test_cmake_cache_values_are_read_by_name(tmp_path: Path):
    cache = tmp_path / "CMakeCache.txt"
    cache.write_text(
        "// comment\n#more\nGGML_NATIVE:BOOL=ON\nCMAKE_BUILD_TYPE:STRING=Release\nx\n",
        encoding="utf-8",
    )
    assert _cmake_cache(cache) == {"GGML_NATIVE": "ON", "CMAKE_BUILD_TYPE": "Release"}
    assert _cmake_cache(tmp_path / "missing") == {}


# ---- the round workload's prompts ----------------------------------------------------------


def test_first_turn_opens_with_the_personas_system_text():
    team = voices()
    chats = [first_turn("What is 2 + 2?", v) for v in team]
    assert [c[0][0] for c in chats] == ["system"] * 3
    assert [c[0][1] for c in chats] == [v.system_prompt for v in team]
    assert len({c[0][1] for c in chats}) == 3  # three distinct voices
    assert all(c[-1][0] == "user" and "What is 2 + 2?" in c[-1][1] for c in chats)


def test_critique_turn_shows_own_answer_as_assistant_and_the_others_in_the_user_turn():
    team = voices()
    answers = ["Answer: 41", "Answer: 42", "Answer: 43"]
    turns = critique_turn("What is 40 + 2?", team, answers)
    assert len(turns) == 3
    for i, chat in enumerate(turns):
        roles = [role for role, _ in chat]
        assert roles == ["system", "user", "assistant", "user"]
        assert chat[0][1] == team[i].system_prompt
        assert chat[2][1] == answers[i]
        others = [a for j, a in enumerate(answers) if j != i]
        assert all(a in chat[3][1] for a in others)
        assert answers[i] not in chat[3][1]
        assert chat[3][1].rstrip().endswith("What is 40 + 2? Answer with a number.")
    assert as_dicts(turns[0])[2] == {"role": "assistant", "content": answers[0]}


def test_critique_turn_needs_one_answer_per_voice():
    with pytest.raises(ValueError, match="3 voices but 2 answers"):
        critique_turn("q", voices(), ["a", "b"])


# ---- llama-server's streams ----------------------------------------------------------------


def _sse(*events: dict) -> bytes:
    lines = [f"data: {json.dumps(e)}\n\n" for e in events]
    return ("".join(lines) + "data: [DONE]\n\n").encode()


def _run_with(body: bytes, call):
    async def go():
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
        async with httpx.AsyncClient(transport=transport) as client:
            return await call(client)

    return asyncio.run(go())


def test_completion_stream_counts_the_servers_tokens_not_its_chunks():
    body = _sse(
        {"choices": [{"text": "Once", "finish_reason": None}]},
        {"choices": [{"text": " upon a time", "finish_reason": None}]},  # 3 tokens, 1 chunk
        {"choices": [{"text": "", "finish_reason": "length"}], "timings": {"predicted_n": 4}},
    )
    timing = _run_with(body, lambda c: completion_stream(c, "http://h", "p", 4))
    assert timing.tokens == 4
    assert timing.first >= timing.sent and timing.end >= timing.first


def test_completion_stream_that_stops_early_is_an_error():
    body = _sse(
        {"choices": [{"text": "x", "finish_reason": "stop"}], "timings": {"predicted_n": 1}},
    )
    with pytest.raises(BenchError, match="ended after 1 tokens"):
        _run_with(body, lambda c: completion_stream(c, "http://h", "p", 4))


def test_chat_stream_splits_prompt_into_prefilled_and_cached():
    body = _sse(
        {"choices": [{"delta": {"content": "Answer"}, "finish_reason": None}]},
        {"choices": [{"delta": {"content": ": 42"}, "finish_reason": None}]},
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
        {
            "choices": [],
            "usage": {"prompt_tokens": 100, "completion_tokens": 5},
            "timings": {"prompt_n": 30, "cache_n": 70, "predicted_n": 5},
        },
    )
    reply = _run_with(body, lambda c: chat_stream(c, "http://h", [{"role": "user"}], 48))
    assert reply.text == "Answer: 42"
    assert (reply.prompt_tokens, reply.cached_tokens, reply.prefilled) == (100, 70, 30)
    assert reply.completion_tokens == 5


def test_prompt_stream_drops_the_formats_leading_space_and_reads_the_cache_split():
    body = _sse(
        {"choices": [{"text": " Answer", "finish_reason": None}]},
        {"choices": [{"text": ": 42", "finish_reason": "stop"}]},
        {"choices": [], "timings": {"prompt_n": 12, "cache_n": 200, "predicted_n": 4}},
    )
    prompt = FormattedPrompt(
        text="User: q\nAssistant:", stop=("\nUser:",), strip_leading_space=True
    )
    reply = _run_with(body, lambda c: prompt_stream(c, "http://h", prompt, 48))
    assert reply.text == "Answer: 42"  # as the agent returns it
    assert (reply.prompt_tokens, reply.cached_tokens, reply.completion_tokens) == (212, 200, 4)


def test_a_rendered_critique_prompt_goes_to_llama_server_with_the_formats_stops():
    chat = critique_turn("What is 40 + 2?", voices(), ["41", "42", "43"])[0]
    prompt = render(CompletionFormat(), chat)
    body = prompt_body(prompt.text, prompt.stop, 48)
    assert body["prompt"].endswith("Assistant:")
    assert "Assistant: 41" in body["prompt"]  # the voice's own answer, as its turn
    assert body["stop"] == list(prompt.stop) and "\nUser:" in body["stop"]
    assert body["cache_prompt"] is True and body["temperature"] == 0.0


def test_chat_stream_without_timings_is_an_error():
    body = _sse({"choices": [{"delta": {"content": "x"}, "finish_reason": "stop"}]})
    with pytest.raises(BenchError, match="no timings"):
        _run_with(body, lambda c: chat_stream(c, "http://h", [], 8))


# ---- tables and targets --------------------------------------------------------------------


def _burst(variant: str, n: int, r: int, seconds: float, ttft: float = 0.1) -> Burst:
    # n streams of 100 tokens, all sent at 0 and ending at `seconds`.
    timings = tuple(StreamTiming(sent=0.0, first=ttft, end=seconds, tokens=100) for _ in range(n))
    return Burst(variant, n, r, timings)


def _reply(prompt: int, cached: int, completion: int = 10) -> Reply:
    return Reply("t", prompt, cached, completion, sent=0.0, first=0.1, end=1.0)


def _round(variant: str, q: int, wall: float, cached: int = 0) -> RoundSample:
    return RoundSample(variant, q, wall, (_reply(100, cached), _reply(200, cached)))


def test_stream_ratios_pair_variants_round_by_round():
    bursts = [
        _burst(AGENT, 4, 0, 4.0),  # 100 tok/s
        _burst(SERVER_PLAIN, 4, 0, 2.0),  # 200: ratio 0.5 in round 0
        _burst(AGENT, 4, 1, 2.0),  # 200
        _burst(SERVER_PLAIN, 4, 1, 2.0),  # 200: ratio 1.0 in round 1
    ]
    table = streams_table(bursts, (4,), VARIANTS, rounds=2)
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["agent"] == "150.0"  # median of 100 and 200
    assert row["agent / llama-server plain"] == "0.75"  # median of 0.5 and 1.0
    assert row["agent fast"] == "—"  # not measured


def test_median_ttft_is_over_every_stream_of_the_level():
    bursts = [_burst(AGENT, 2, 0, 1.0, ttft=0.01), _burst(AGENT, 2, 1, 1.0, ttft=0.03)]
    assert median_ttft_ms(bursts, AGENT, 2) == pytest.approx(20.0)
    assert median_ttft_ms(bursts, AGENT, 8) is None


def test_round_sample_sums_prompt_cached_and_prefilled():
    sample = _round(AGENT, 0, 1.0, cached=50)
    assert (sample.prompt_tokens, sample.cached_tokens, sample.prefilled) == (300, 100, 200)
    assert sample.completion_tokens == 20
    assert hit_rate([sample]) == pytest.approx(1 / 3)
    assert hit_rate([]) is None


def test_round_ratio_pairs_by_question_and_skips_unpaired_ones():
    samples = [
        _round(AGENT, 0, 1.0),
        _round(SERVER, 0, 2.0),  # 0.5
        _round(AGENT, 1, 3.0),
        _round(SERVER, 1, 2.0),  # 1.5
        _round(AGENT, 2, 9.0),  # llama-server failed on question 2: not paired
    ]
    assert paired_round_ratio(samples, AGENT, SERVER) == pytest.approx(1.0)


def test_rounds_table_reports_hit_rate_and_the_agents_own_counters():
    samples = [
        RoundSample(AGENT, 0, 1.5, (_reply(100, 40), _reply(100, 60)), info_prefilled=100),
        _round(SERVER, 0, 2.0, cached=0),
    ]
    table = rounds_table(samples, (AGENT, SERVER), voices=3)
    rows = {r[0]: dict(zip(table.columns, r, strict=True)) for r in table.rows}
    assert rows["agent"]["hit rate %"] == "50"
    assert rows["agent"]["prefilled / round"] == "100"
    assert rows["agent"]["prefilled / round (GetInfo)"] == "100"
    assert rows["llama-server"]["prefilled / round (GetInfo)"] == "—"
    assert rows["llama-server"]["round wall ms (median)"] == "2,000"


def test_targets_cover_each_level_for_same_kernel_pairs_and_the_round():
    bursts = [_burst(AGENT, 1, 0, 1.0), _burst(SERVER_PLAIN, 1, 0, 1.02)]
    samples = [_round(AGENT, 0, 0.7), _round(SERVER, 0, 1.0)]
    found = {t.name: t for t in targets(bursts, samples, (1,))}
    same = found["agent / llama-server plain tok/s, N=1"]
    assert same.value == pytest.approx(1.02)
    assert same.verdict == "PASS"
    assert found["agent fast / llama-server tok/s, N=1"].verdict == "n/a"  # not measured
    assert found["agent / llama-server round wall time"].verdict == "PASS"  # 0.7 <= 0.8
