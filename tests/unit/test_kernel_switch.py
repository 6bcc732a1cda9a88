"""How the agent reads ggml's tiled-kernel switch (which decides batch invariance)."""

from __future__ import annotations

import pytest

from conclave.services.engine.llama_model import TILED_KERNEL_SWITCH, row_count_invariant_kernels


@pytest.mark.parametrize(
    ("value", "invariant"),
    [
        (None, True),  # unset: ggml's default is on, but the agent sets 0 before loading
        ("0", True),
        ("", True),  # atoi("") == 0: off
        ("off", True),  # atoi("off") == 0: off, as ggml reads it
        (" 00", True),
        ("1", False),
        ("2", False),
        (" 1x", False),
        ("-1", False),
    ],
)
def test_the_switch_is_read_as_ggml_reads_it(monkeypatch, value, invariant):
    if value is None:
        monkeypatch.delenv(TILED_KERNEL_SWITCH, raising=False)
    else:
        monkeypatch.setenv(TILED_KERNEL_SWITCH, value)
    assert row_count_invariant_kernels() is invariant
