"""Model/slot/thread recommendation: the table's boundaries and the slot arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conclave.services.hardware import Accelerator, HardwareReport, detect_hardware, load_recorded
from conclave.services.recommend import (
    MODEL_CLASSES,
    default_slots,
    default_threads,
    recommend,
    threads_per_agent,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hardware"
GiB = 1024**3


def machine(
    total_gib: float,
    available_gib: float | None = None,
    cores: int = 4,
    accelerators: tuple[Accelerator, ...] = (),
) -> HardwareReport:
    total = int(total_gib * GiB)
    available = int((available_gib if available_gib is not None else total_gib * 0.8) * GiB)
    return HardwareReport(
        cpu_model="test cpu",
        cpu_arch="x86_64",
        physical_cores=cores,
        logical_cores=max(cores, 1) * 2,
        ram_total_bytes=total,
        ram_available_bytes=available,
        os="Linux",
        accelerators=accelerators,
    )


@pytest.mark.parametrize(
    ("total_gib", "parameters"),
    [
        (23.4, "14B"),  # a "24 GB" PC
        (21.6, "14B"),  # the 24 GB class threshold itself
        (21.5, "7B"),
        (15.5, "7B"),  # a "16 GB" PC
        (14.4, "7B"),
        (11.6, "3B"),  # a "12 GB" machine is not a 16 GB one
        (7.6, "3B"),  # an "8 GB" Raspberry Pi 4 counts as 8 GB
        (7.2, "3B"),
        (7.1, "270M"),
        (3.7, "270M"),  # a "4 GB" Pi: the bundled model
        (0.0, "270M"),  # memory unknown
    ],
)
def test_table_boundaries(total_gib: float, parameters: str) -> None:
    assert recommend(machine(total_gib)).parameters == parameters


def test_each_class_names_its_model() -> None:
    names = {
        rec.parameters: (rec.model_name, rec.quantization, rec.bundled)
        for rec in (recommend(machine(gib)) for gib in (32, 16, 8, 2))
    }
    assert names == {
        "14B": ("Qwen2.5-14B-Instruct", "Q4_K_M", False),
        "7B": ("Qwen2.5-7B-Instruct", "Q4_K_M", False),
        "3B": ("Llama-3.2-3B-Instruct", "Q6_K", False),
        "270M": ("gemma-3-270m", "Q4_K_M", True),
    }
    bundled = recommend(machine(2))
    assert bundled.context_per_slot == 2048
    assert bundled.approx_model_bytes == 235 * 1024**2


def test_slots_from_what_is_left() -> None:
    # 8 GB Pi 5: 7 GiB available - 2.64 GB model - 1.75 GiB reserve (25 %) = 2.79 GiB,
    # 448 MiB of KV cache per 4096-token slot of the 3B model -> 6 slots.
    rec = recommend(machine(7.87, available_gib=7.0))
    assert (rec.parameters, rec.slots, rec.context_per_slot) == ("3B", 6, 4096)


def test_slots_are_clamped() -> None:
    assert recommend(machine(3.7, available_gib=3.0)).slots == 8  # tiny model, lots of room
    tight = recommend(machine(15.5, available_gib=4.0))  # the 7B model barely fits, if at all
    assert tight.slots == 1
    assert "tight" in tight.reason


def test_a_larger_gpu_decides_and_its_memory_holds_the_slots() -> None:
    gpu = Accelerator(vendor="nvidia", name="RTX 3090", memory_total_bytes=24 * GiB)
    rec = recommend(machine(8, available_gib=2.0, accelerators=(gpu,)))
    assert rec.parameters == "14B"
    assert rec.slots == 8  # 24 GiB - 8.4 - 6 reserve leaves 12 slots of 768 MiB, capped
    assert "RTX 3090" in rec.reason


def test_a_smaller_gpu_does_not_shrink_the_choice() -> None:
    gpu = Accelerator(vendor="nvidia", name="GTX 1060", memory_total_bytes=6 * GiB)
    assert recommend(machine(31.3, accelerators=(gpu,))).parameters == "14B"


def test_threads_are_physical_cores() -> None:
    assert default_threads(machine(16, cores=6)) == 6
    assert recommend(machine(16, cores=6)).threads == 6
    assert default_threads(machine(16, cores=0)) == 1


def test_default_slots_matches_recommend() -> None:
    hw = machine(15.5, available_gib=12.0)
    assert default_slots(hw) == recommend(hw).slots


@pytest.mark.parametrize(
    ("case", "parameters"),
    [
        ("pi4", "270M"),
        ("pi5_ok", "3B"),
        ("apple_m2", "7B"),
        ("nvidia_1gpu", "14B"),  # 15.5 GiB RAM, but a 24 GiB GPU
        ("x86_pc", "7B"),
        ("termux_qualcomm", "3B"),
    ],
)
def test_recorded_machines(case: str, parameters: str) -> None:
    rec = recommend(detect_hardware(load_recorded(FIXTURES / case)))
    assert rec.parameters == parameters


@given(
    st.floats(min_value=0, max_value=256),
    st.floats(min_value=0, max_value=256),
    st.floats(min_value=0, max_value=1),
)
def test_more_memory_never_picks_a_smaller_model(a: float, b: float, free: float) -> None:
    small, large = sorted((a, b))
    order = [c.parameters for c in MODEL_CLASSES]  # largest first
    rec_small = recommend(machine(small, available_gib=small * free))
    rec_large = recommend(machine(large, available_gib=large * free))
    assert order.index(rec_large.parameters) <= order.index(rec_small.parameters)
    assert 1 <= rec_small.slots <= 8
    assert 1 <= rec_large.slots <= 8


@pytest.mark.parametrize(
    ("cores", "agents", "threads"),
    [(2, 1, 2), (2, 2, 1), (4, 2, 2), (4, 3, 1), (2, 3, 1), (8, 3, 2), (0, 2, 1)],
)
def test_agents_on_one_machine_split_its_cores(cores: int, agents: int, threads: int) -> None:
    assert threads_per_agent(machine(8, cores=cores), agents) == threads


def test_no_agents_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        threads_per_agent(machine(8), 0)
