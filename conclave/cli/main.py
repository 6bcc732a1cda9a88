"""The `conclave` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import BaseModel, ValidationError

from conclave import __version__
from conclave.addresses import check_address
from conclave.cli.failures import settings_problem
from conclave.cli.flags import add_settings_flags, given_settings
from conclave.cli.swarm_client import add_swarm_flags
from conclave.config import ConfigFileError
from conclave.gateway.mcp.settings import McpSettings
from conclave.gateway.settings import GatewaySettings
from conclave.leader.settings import LeaderSettings
from conclave.services.settings import AgentSettings
from conclave.startup import ExitCode, StartupError
from conclave.swarm_security import SwarmSecurity, SwarmSecurityError

SERVICE_SETTINGS: dict[str, type[BaseModel]] = {
    "agent": AgentSettings,
    "leader": LeaderSettings,
    "gateway": GatewaySettings,
    "mcp": McpSettings,
}
# `--config FILE` is how docs, deploy files and scripts name every config file.
SETTINGS_ALIASES = {"config_file": ["--config"]}


def _temperature(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 2:
        raise argparse.ArgumentTypeError(f"{text} is outside 0-2")
    return value


def _address(text: str) -> str:
    try:
        return check_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(_address(a.strip()) for a in text.split(",") if a.strip())


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conclave", description=__doc__)
    parser.add_argument("--version", action="version", version=f"conclave {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    agent = commands.add_parser("agent", help="run an agent service (a model behind gRPC)")
    add_settings_flags(agent, AgentSettings, aliases=SETTINGS_ALIASES)
    agent_commands = agent.add_subparsers(dest="agent_command")
    call = agent_commands.add_parser("call", help="stream an answer from one agent")
    call.add_argument("prompt")
    call.add_argument(
        "--addr", type=_address, default="127.0.0.1:50051", help="agent address HOST:PORT"
    )
    call.add_argument("--system", help="system message")
    call.add_argument("--raw", action="store_true", help="send the prompt without chat format")
    call.add_argument("--max-tokens", type=int)
    call.add_argument("--temperature", type=float)
    call.add_argument("--seed", type=int)
    call.add_argument("-n", type=int, default=1, help="samples to draw")
    call.add_argument("--grammar", help="GBNF the answer must match (or @FILE)")
    call.add_argument("--json-schema", help="JSON Schema the answer must match (or @FILE)")
    call.add_argument(
        "--constrain-after",
        help="reason first: free text, then this marker on a new line, then the answer",
    )
    call.add_argument(
        "--allow-text", action="store_true", help="with a grammar: plain text may answer instead"
    )
    call.add_argument("--timeout", type=float, default=300.0, help="seconds")
    add_swarm_flags(call)

    leader = commands.add_parser("leader", help="run the leader (rounds over many agents)")
    add_settings_flags(leader, LeaderSettings, aliases=SETTINGS_ALIASES)

    gateway = commands.add_parser("gateway", help="run the OpenAI-compatible HTTP gateway")
    add_settings_flags(gateway, GatewaySettings, aliases=SETTINGS_ALIASES)

    mcp = commands.add_parser(
        "mcp", help="serve Conclave's MCP tools on stdio (ask the council from an MCP client)"
    )
    add_settings_flags(mcp, McpSettings, aliases=SETTINGS_ALIASES)

    up = commands.add_parser("up", help="the whole local swarm: agents, leader, gateway")
    up.add_argument(
        "--agents",
        type=_count,
        default=1,
        help="agent services started here (model copies); 0 with --agents-at: only those",
    )
    up.add_argument(
        "--agents-at",
        type=_addresses,
        default=(),
        metavar="HOST:PORT,...",
        help="agent services already running elsewhere (another PC, a Pi blade) to join, "
        "each with the same voices as a local agent",
    )
    up.add_argument(
        "--discover",
        action="store_true",
        help="also join the agent services that announce themselves on the LAN (zeroconf), "
        "as they come and go",
    )
    up.add_argument(
        "--token",
        action="store_true",
        help="guard the gRPC ports with a fresh swarm token even on loopback (always on when "
        "--host reaches beyond this machine, or with CONCLAVE_SWARM_TOKEN[_FILE] set)",
    )
    up.add_argument(
        "--host",
        default="127.0.0.1",
        help="address every service binds (default 127.0.0.1, this machine only; "
        "0.0.0.0 serves the LAN)",
    )
    up.add_argument(
        "--participants-per-agent",
        type=int,
        default=3,
        help="voices per agent (they batch together)",
    )
    up.add_argument("--port", type=int, default=8080, help="gateway HTTP port")
    up.add_argument("--leader-port", type=int, default=50050, help="leader gRPC port")
    up.add_argument(
        "--agent-port",
        type=int,
        default=50051,
        help="first agent's gRPC port (the next agents count up; 0 = any free)",
    )
    up.add_argument(
        "--model",
        help="GGUF file the local agents serve instead of the bundled models "
        "(docs/rack.md: a bigger model)",
    )
    up.add_argument(
        "--voice-models",
        help="comma-separated model ids the voices of each agent ask for, in turn "
        "(default: the measured best team of the bundled models; with --model: its model)",
    )
    up.add_argument(
        "--temperature",
        type=_temperature,
        help="the rounds' default temperature, 0-2 (default: the measured best, "
        "docs/benchmarks.md)",
    )
    up.add_argument("--slots", type=int, help="slots per agent")
    up.add_argument(
        "--threads",
        type=_positive_int,
        help="decode threads per agent (default: the physical cores split between the agents)",
    )
    up.add_argument("--db", help="SQLite file of the rounds")
    up.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    ask = commands.add_parser("ask", help="run one round and show candidates, votes, winner")
    ask.add_argument("prompt")
    ask.add_argument(
        "--leader", type=_address, default="127.0.0.1:50050", help="leader address HOST:PORT"
    )
    ask.add_argument("--strategy", default="vote")
    ask.add_argument("--method", default="majority")
    ask.add_argument("--participants", type=lambda s: s.split(","), help="names, comma-separated")
    ask.add_argument("--samples", type=int, help="samples per participant")
    ask.add_argument("--max-tokens", type=int)
    ask.add_argument("--temperature", type=float)
    ask.add_argument("--seed", type=int)
    ask.add_argument("--quorum", type=int)
    ask.add_argument("--system", help="system message")
    ask.add_argument("--param", action="append", help="method/strategy knob key=value")
    ask.add_argument("--json", action="store_true", help="print the decided round as JSON")
    ask.add_argument("--timeout", type=float, default=600.0, help="seconds")
    add_swarm_flags(ask)

    from conclave.deploy.cli import add_image_parser

    add_image_parser(commands)

    from conclave.cli.experiment import add_experiment_parser

    add_experiment_parser(commands)

    doctor = commands.add_parser("doctor", help="show the hardware and the model it suits")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _run_service(command: str, args: argparse.Namespace) -> int:
    """`conclave agent|leader|gateway|mcp`: settings from the flags given (over the
    environment and the config file), logging, then the service until it is stopped."""
    from conclave.cli.logs import configure_logging

    cls = SERVICE_SETTINGS[command]

    def fail(message: object, code: ExitCode) -> int:
        # One line and a distinct code: what systemd, Kubernetes and a person can use.
        sys.stderr.write(f"conclave {command}: {message}\n")
        return int(code)

    try:
        settings = cls(**given_settings(cls, args))
    except ValidationError as error:
        return fail(settings_problem(cls, error), ExitCode.SETTINGS)
    except ConfigFileError as error:
        return fail(error, ExitCode.CONFIG_FILE)
    except ValueError as error:
        return fail(error, ExitCode.SETTINGS)
    try:  # the token and certificate files are read now: a bad one is one line, not a trace
        SwarmSecurity.from_settings(settings)
    except SwarmSecurityError as error:
        return fail(error, ExitCode.SETTINGS)
    configure_logging(settings.log_level)
    try:
        _serve(command, settings)
    except StartupError as error:
        return fail(error, error.code)
    return 0


def _serve(command: str, settings: BaseModel) -> None:
    """Runs one service; a StartupError says why it could not start."""

    def say(what: str):
        return lambda address: print(f"conclave {command} {what} {address}", flush=True)

    if command == "agent":
        from conclave.services.server import serve as serve_agent

        asyncio.run(
            serve_agent(settings, on_listening=say("listening on"), on_ready=say("ready on"))
        )
    elif command == "leader":
        from conclave.leader.server import serve as serve_leader

        asyncio.run(serve_leader(settings, on_ready=say("ready on")))
    elif command == "mcp":
        # Nothing may be printed: stdout is the MCP protocol (the log goes to stderr).
        from conclave.gateway.mcp.stdio import serve_stdio

        asyncio.run(serve_stdio(settings))
    else:
        from conclave.gateway.server import serve as serve_gateway

        asyncio.run(serve_gateway(settings))


def _run_agent_call(args: argparse.Namespace) -> int:
    from conclave.cli.agent_call import build_request, call_agent
    from conclave.cli.swarm_client import ClientSettingsError, client_security, swarm_settings

    try:
        security = client_security(swarm_settings(args), args.addr)
    except ClientSettingsError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    try:
        request = build_request(
            args.prompt,
            system=args.system,
            raw=args.raw,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            seed=args.seed,
            n=args.n,
            grammar=args.grammar,
            json_schema=args.json_schema,
            constrain_after=args.constrain_after,
            allow_text=args.allow_text,
        )
    except OSError as error:  # an @FILE that cannot be read
        sys.stderr.write(f"error: {error}\n")
        return 2
    return call_agent(args.addr, request, timeout=args.timeout, security=security)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "agent" and args.agent_command == "call":
        return _run_agent_call(args)
    if args.command in SERVICE_SETTINGS:
        return _run_service(args.command, args)
    if args.command == "up":
        from conclave.cli.up import run_up

        return run_up(args)
    if args.command == "ask":
        from conclave.cli.ask import run_ask

        return run_ask(args)
    if args.command == "doctor":
        from conclave.cli.doctor import run_doctor

        return run_doctor(json_output=args.json)
    if args.command == "experiment":
        from conclave.cli.experiment import run_experiment

        return run_experiment(args)
    if args.command == "image":
        from conclave.deploy.cli import run_image

        return run_image(args)
    raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
