"""`conclave doctor`: JSON and table output for a recorded machine."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from conclave.cli.doctor import run_doctor
from conclave.services.hardware import load_recorded

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hardware"


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_doctor(json_output=True, system=load_recorded(FIXTURES / "pi5_throttled")) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"hardware", "recommendation", "bundled_models"}
    bundled = {m["name"]: m for m in report["bundled_models"]}
    assert bundled["bundled"]["chat_format"] == "completion"
    assert "base model" in bundled["bundled"]["reason"]
    assert len(bundled["bundled"]["demonstrations"]) >= 3
    # Instruction-tuned, with a template, but measured better in the completion format.
    assert bundled["smollm2-135m-instruct"]["chat_format"] == "completion"
    assert "answers best" in bundled["smollm2-135m-instruct"]["reason"]
    hardware = report["hardware"]
    assert hardware["cpu_model"] == "ARM Cortex-A76"
    assert hardware["physical_cores"] == 4
    assert hardware["raspberry_pi"] == {
        "model": "Raspberry Pi 5 Model B Rev 1.0",
        "throttled": True,
        "throttle_flags": [
            "under_voltage_now",
            "throttled_now",
            "under_voltage_occurred",
            "throttled_occurred",
        ],
    }
    assert hardware["temperature_c"] == 81.65
    recommendation = report["recommendation"]
    assert recommendation["model_name"] == "Llama-3.2-3B-Instruct"
    # The exact file, where it is published, and the command that serves it.
    assert recommendation["file_name"] == "Llama-3.2-3B-Instruct-Q6_K.gguf"
    assert recommendation["download_url"] == (
        "https://huggingface.co/bartowski/Llama-3.2-3B-Instruct-GGUF/resolve/main/"
        "Llama-3.2-3B-Instruct-Q6_K.gguf"
    )
    assert recommendation["serve_command"] == (
        "conclave up --model ~/models/Llama-3.2-3B-Instruct-Q6_K.gguf"
    )
    assert recommendation["threads"] == 4
    assert 1 <= recommendation["slots"] <= 8


def test_table_output() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None)
    assert run_doctor(system=load_recorded(FIXTURES / "nvidia_2gpu"), console=console) == 0
    text = buffer.getvalue()
    for expected in (
        "Hardware",
        "Recommendation",
        "NVIDIA GeForce RTX 4090",
        "NVIDIA GeForce RTX 3060",
        "Qwen2.5-14B-Instruct",
        "AMD Ryzen 9 7950X",
        "Bundled models",
        "completion",
        "smollm2-135m-instruct",
        # The file to get and the command that serves it, ready to paste.
        "Qwen2.5-14B-Instruct-Q4_K_M.gguf",
        "conclave up --model ~/models/Qwen2.5-14B-Instruct-Q4_K_M.gguf",
    ):
        assert expected in text
