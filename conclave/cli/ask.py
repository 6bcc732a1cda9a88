"""`conclave ask`: run one round on a leader and show every candidate, vote and the winner."""

from __future__ import annotations

import sys

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from conclave.cli.swarm_client import ClientSettingsError, client_security, swarm_settings
from conclave.errors import ConclaveError
from conclave.grpc_status import status_for
from conclave.leader import convert
from conclave.leader.client import LeaderClientSync
from conclave.leader.events import CandidateDone, CandidateText, RoundDecided
from conclave.leader.types import RoundRecord, RoundSpec


def build_spec(args) -> RoundSpec:
    messages = [("user", args.prompt)]
    if args.system:
        messages.insert(0, ("system", args.system))
    params = {}
    for pair in args.param or []:
        key, _, value = pair.partition("=")
        params[key] = value
    return RoundSpec(
        messages=tuple(messages),
        strategy=args.strategy,
        method=args.method,
        participants=tuple(args.participants or ()),
        samples_per_participant=args.samples,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        seed=args.seed,
        quorum=args.quorum,
        params=params,
    )


def _live_table(texts: dict[tuple[str, int, int], str], done: set) -> Table:
    table = Table(title="candidates (streaming)", expand=True)
    table.add_column("participant", no_wrap=True)
    table.add_column("text")
    for (participant, index, turn), text in texts.items():
        label = f"{participant}#{index}" + (f" t{turn}" if turn else "")
        mark = "✓ " if (participant, index, turn) in done else "… "
        table.add_row(mark + label, Text(text[-300:].replace("\n", " ")))
    return table


def result_tables(record: RoundRecord) -> Group:
    decision = record.decision
    winner = decision.winner if decision.winner is not None else -1
    request = record.request
    candidates = Table(title=f"round {record.id} · {request.strategy}/{request.method}")
    for column in ("#", "participant", "turn", "answer text", "finish", "tokens", "ms"):
        candidates.add_column(column)
    for i, c in enumerate(record.candidates):
        style = "bold green" if i == winner else ""
        candidates.add_row(
            str(i),
            f"{c.participant}#{c.sample_index}",
            str(c.turn),
            Text((c.text or c.error).strip().replace("\n", " ")[:120]),
            c.finish_reason,
            str(c.completion_tokens),
            f"{c.latency_ms:.0f}",
            style=style,
        )
    votes = Table(title="tally")
    votes.add_column("answer")
    votes.add_column("weight")
    votes.add_column("members")
    for g in decision.groups:
        votes.add_row(Text(g.answer[:80]), f"{g.weight:g}", ",".join(map(str, g.members)))
    text = record.candidates[winner].text if winner >= 0 else ""
    summary = Text(
        f"winner: #{winner}  agreement {decision.agreement:.0%}  "
        f"status {record.status}  {record.wall_ms:.0f} ms\n{decision.detail}\n\n{text}"
    )
    return Group(candidates, votes, summary)


def run_ask(args, console: Console | None = None) -> int:
    console = console or Console()
    spec = build_spec(args)
    texts: dict[tuple[str, int, int], str] = {}
    done: set[tuple[str, int, int]] = set()
    decided: RoundRecord | None = None
    try:
        security = client_security(swarm_settings(args), args.leader)
    except ClientSettingsError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    leader = LeaderClientSync(args.leader, security=security)
    try:
        with Live(
            _live_table(texts, done), console=console, transient=True, refresh_per_second=8
        ) as live:
            for event in leader.run_round(spec, timeout=args.timeout):
                if isinstance(event, CandidateText):
                    key = (event.participant, event.sample_index, event.turn)
                    texts[key] = texts.get(key, "") + event.text
                elif isinstance(event, CandidateDone):
                    c = event.candidate
                    done.add((c.participant, c.sample_index, c.turn))
                elif isinstance(event, RoundDecided):
                    decided = event.record
                live.update(_live_table(texts, done))
    except ConclaveError as error:
        sys.stderr.write(f"error: {status_for(error).name}: {error}\n")
        return 1
    finally:
        leader.close()
    assert decided is not None  # run_round ends with the decided round or raises
    if args.json:
        sys.stdout.write(convert.round_json_text(decided) + "\n")
    else:
        console.print(result_tables(decided))
    return 0
