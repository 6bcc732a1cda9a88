"""`conclave experiment run FILE.yaml | show DIR`: leader experiments from config files.

Also runnable alone: `python -m conclave.cli.experiment run FILE.yaml`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from conclave.cli.swarm_client import ClientSettingsError, add_swarm_flags, swarm_settings

EXIT_CONFIG = 2
EXIT_INCOMPLETE = 1
EXIT_INTERRUPTED = 130


def add_experiment_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    experiment = subparsers.add_parser(
        "experiment", help="compare strategies on a dataset, from a YAML file"
    )
    commands = experiment.add_subparsers(dest="experiment_command", required=True)
    run = commands.add_parser("run", help="run (or resume) an experiment")
    run.add_argument("config", type=Path, help="experiment YAML file")
    run.add_argument("--leader", help="leader HOST:PORT; overrides the config's, starts none")
    run.add_argument(
        "--out", type=Path, help="output folder (default: the config's `output`, else runs/NAME)"
    )
    run.add_argument(
        "--retry-failed", action="store_true", help="ask again rounds that ended undecided"
    )
    run.add_argument(
        "--check",
        action="store_true",
        help="check the config (and, with a leader address, the cells against that leader), "
        "print the plan; no round runs",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    add_swarm_flags(run)
    show = commands.add_parser("show", help="print a run's summary table again")
    show.add_argument("dir", type=Path, help="the run's output folder")
    show.add_argument("--json", action="store_true", help="the summaries as JSON")
    return experiment


def run_experiment(args: argparse.Namespace) -> int:
    if args.experiment_command == "show":
        return _show(args.dir, as_json=args.json)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from conclave.cli.logs import configure_logging
    from conclave.errors import ConclaveError
    from conclave.experiments.config import load_experiment
    from conclave.experiments.errors import ConfigError, ExperimentAborted
    from conclave.experiments.progress import NoProgress, RichProgress
    from conclave.experiments.runner import ExperimentRunner
    from conclave.experiments.table import rich_table

    configure_logging(args.log_level)
    console = _console()
    try:
        experiment = load_experiment(args.config, leader=args.leader)
    except ConfigError as error:
        sys.stderr.write(f"conclave experiment: {error}\n")
        return EXIT_CONFIG
    out_dir = experiment.output_dir(args.out)
    units = len(experiment.cells) * len(experiment.seeds) * len(experiment.dataset.items)
    plan = (
        f"{experiment.config.name}: {len(experiment.cells)} cells × "
        f"{len(experiment.dataset.items)} items × {len(experiment.seeds)} repeats = {units} rounds"
        f" → {out_dir}"
    )
    if args.check:
        if experiment.leader:
            try:
                _check_with_leader(experiment)
            except ConfigError as error:
                sys.stderr.write(f"conclave experiment: {error}\n")
                return EXIT_CONFIG
            except ConclaveError as error:
                sys.stderr.write(f"conclave experiment: leader: {error}\n")
                return EXIT_INCOMPLETE
        checked = f" (and with the leader at {experiment.leader})" if experiment.leader else ""
        console.print(f"config OK{checked}. {plan}")
        for cell in experiment.cells:
            console.print(f"  {cell.id}  ({cell.source}: {cell.strategy}/{cell.method})")
        return 0
    console.print(plan, highlight=False)
    try:
        swarm = swarm_settings(args)
    except ClientSettingsError as error:
        sys.stderr.write(f"conclave experiment: {error}\n")
        return EXIT_CONFIG
    runner = ExperimentRunner(
        experiment,
        out_dir,
        swarm=swarm,
        progress=NoProgress() if args.no_progress else RichProgress(),
        retry_failed=args.retry_failed,
    )
    try:
        with _sigterm_interrupts():
            report = runner.run()
    except ConfigError as error:
        sys.stderr.write(f"conclave experiment: {error}\n")
        return EXIT_CONFIG
    except ExperimentAborted as error:
        sys.stderr.write(f"conclave experiment: stopped: {error}\nPartial reports: {out_dir}\n")
        return EXIT_INCOMPLETE
    except KeyboardInterrupt:
        sys.stderr.write(f"conclave experiment: interrupted; run again to resume ({out_dir})\n")
        return EXIT_INTERRUPTED
    title = f"{experiment.config.name} — {out_dir}"
    console.print(rich_table(report.summaries, title=title, width=console.width))
    console.print(
        f"{report.ran} rounds asked now, {report.resumed + report.adopted} resumed"
        f" ({report.adopted} from the round store), {report.left} left. "
        f"Reports: {out_dir}/report.md",
        highlight=False,
    )
    if report.errors:
        sys.stderr.write("errors:\n" + "\n".join(f"  {e}" for e in report.errors[:10]) + "\n")
    return 0 if report.complete else EXIT_INCOMPLETE


def _check_with_leader(experiment) -> None:
    """The run's own checks against a live leader (participants, counts, aggregator),
    without asking a round: what `make experiment ... ARGS="--leader H:P"` would meet."""
    from conclave.experiments.preflight import preflight
    from conclave.experiments.runner import CONNECT_TIMEOUT_S
    from conclave.leader.client import LeaderClientSync

    leader = LeaderClientSync(experiment.leader)
    try:
        leader.wait_ready(CONNECT_TIMEOUT_S)
        preflight(experiment, leader.list_agents, leader=leader.address)
    finally:
        leader.close()


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops like Ctrl-C: rounds in flight are cancelled, the reports written."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the caller owns the signals then
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _show(out_dir: Path, *, as_json: bool) -> int:
    from conclave.experiments.show import NotARun, load_run
    from conclave.experiments.table import rich_table

    try:
        view = load_run(out_dir)
    except NotARun as error:
        sys.stderr.write(f"conclave experiment show: {error}\n")
        return EXIT_CONFIG
    if as_json:
        payload = {"run": view.state.to_json(), "cells": [s.to_json() for s in view.summaries]}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return 0
    console = _console()
    state = view.state
    title = f"{state.experiment} — {out_dir}"
    console.print(rich_table(view.summaries, title=title, width=console.width))
    console.print(
        f"run {state.run_id}: {state.status}, {len(view.results)} of {state.units} rounds; "
        f"leader {state.leader}",
        highlight=False,
    )
    return 0


def _console():
    from rich.console import Console

    console = Console()
    # Piped into a file or a CI log, rich would wrap the wide table at 80 columns.
    return console if console.is_terminal else Console(width=200)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conclave")
    add_experiment_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["experiment", *(sys.argv[1:] if argv is None else argv)])
    return run_experiment(args)


if __name__ == "__main__":
    sys.exit(main())
