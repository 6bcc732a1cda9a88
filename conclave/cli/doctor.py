"""``conclave doctor``: show what this machine has and what the agent would run on it."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

from conclave.services.bundled import BundledModelReport, bundled_reports
from conclave.services.hardware import HardwareReport, SystemView, detect_hardware
from conclave.services.recommend import MODELS_DIR, Recommendation, recommend

GiB = 1024**3


def _gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB" if n else "unknown"


def _hardware_table(hw: HardwareReport) -> Table:
    table = Table(title="Hardware", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("CPU", f"{hw.cpu_model} ({hw.cpu_arch})")
    table.add_row("Cores", f"{hw.physical_cores} physical, {hw.logical_cores} logical")
    table.add_row(
        "RAM", f"{_gib(hw.ram_total_bytes)} total, {_gib(hw.ram_available_bytes)} available"
    )
    table.add_row("OS", hw.os)
    if not hw.accelerators:
        table.add_row("Accelerators", "none (CPU only)")
    for index, acc in enumerate(hw.accelerators):
        details = ", ".join(
            part for part in (acc.vendor, _gib(acc.memory_total_bytes), acc.driver) if part
        )
        table.add_row("Accelerators" if index == 0 else "", f"{acc.name} [{details}]")
    if hw.raspberry_pi is not None:
        pi = hw.raspberry_pi
        table.add_row("Raspberry Pi", pi.model)
        state = "[red]throttled now[/red]" if pi.throttled else "not throttled now"
        flags = ", ".join(pi.throttle_flags) or "no flags"
        table.add_row("Throttling", f"{state} ({flags})")
    if hw.temperature_c is not None:
        table.add_row("Temperature", f"{hw.temperature_c:.1f} °C")
    return table


def _recommendation_table(rec: Recommendation) -> Table:
    table = Table(title="Recommendation", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")  # a URL is folded, never cut short
    bundled = " (bundled, no download)" if rec.bundled else ""
    table.add_row("Model", f"{rec.model_name} {rec.quantization}{bundled}")
    table.add_row("File", rec.file_name)
    if rec.download_url:
        table.add_row(
            "Get it", f"curl -L --create-dirs -o {MODELS_DIR}/{rec.file_name} {rec.download_url}"
        )
    table.add_row("Serve it", rec.serve_command)
    table.add_row("Parameters", rec.parameters)
    table.add_row("Model size", f"~{_gib(rec.approx_model_bytes)}")
    table.add_row("Slots", f"{rec.slots} × {rec.context_per_slot} tokens")
    table.add_row("Threads", str(rec.threads))
    table.add_row("Why", rec.reason)
    return table


def _bundled_table(reports: list[BundledModelReport]) -> Table:
    table = Table(title="Bundled models (no download)", title_justify="left")
    for column in ("--model", "serves as", "chat format", "why"):
        table.add_column(column, style="bold" if column == "--model" else None)
    for r in reports:
        if r.error:
            table.add_row(r.name, r.id, "[red]unavailable[/red]", r.error)
        else:
            table.add_row(r.name, r.id, r.chat_format, r.reason)
    return table


def _demonstrations_table(demos: tuple[tuple[str, str], ...]) -> Table:
    table = Table(
        title="Completion format: the exchanges it opens with (setting `demonstrations`)",
        title_justify="left",
    )
    table.add_column("User")
    table.add_column("Assistant")
    for user, answer in demos:
        table.add_row(user, answer)
    return table


def run_doctor(
    json_output: bool = False,
    system: SystemView | None = None,
    console: Console | None = None,
) -> int:
    """Print the hardware report and the recommendation; returns the exit code (0).

    ``system`` lets tests show a recorded machine; ``console`` lets callers capture the
    table. JSON goes to stdout unadorned so scripts can pipe it to ``jq``.
    """
    hw = detect_hardware(system)
    rec = recommend(hw)
    bundled = bundled_reports()
    if json_output:
        payload = {
            "hardware": hw.model_dump(mode="json"),
            "recommendation": rec.model_dump(mode="json"),
            "bundled_models": [r.as_dict() for r in bundled],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    out = console if console is not None else Console()
    out.print(_hardware_table(hw))
    out.print(_recommendation_table(rec))
    out.print(_bundled_table(bundled))
    demos = next((r.demonstrations for r in bundled if r.demonstrations), ())
    if demos:
        out.print(_demonstrations_table(demos))
    return 0
