"""The debug log's line for one decode call: its time, rows per slot, rows with logits."""

from __future__ import annotations

from conclave.services.engine.scheduler import _Row, step_summary


def test_a_step_is_summarised_by_slot():
    owner = object()  # any owner wants the row's logits
    rows = [
        _Row(token=1, pos=10, seq_id=2, owner=None),
        _Row(token=2, pos=11, seq_id=2, owner=owner),  # type: ignore[arg-type]
        _Row(token=3, pos=40, seq_id=0, owner=owner),  # type: ignore[arg-type]
    ]
    assert step_summary(rows, 0.0744) == ("74.4 ms, 3 rows, 2 with logits, slot:rows 0:1 2:2")
