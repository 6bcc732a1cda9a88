"""`conclave up` (and `make run`): the whole local swarm, with copy-paste instructions."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from conclave.cli.logs import configure_logging
from conclave.startup import ExitCode, StartupError
from conclave.swarm import LocalSwarm, SwarmError, SwarmPlan
from conclave.swarm_security import (
    SwarmClientSettings,
    SwarmSecurity,
    SwarmSecurityError,
    generate_token,
    is_loopback,
    local_token_file,
    write_private,
)


def instructions(swarm: LocalSwarm) -> str:
    url = swarm.gateway_url
    leader = swarm.leader.address if swarm.leader else ""
    agents = ", ".join(
        [f"{a.address} (here)" for a in swarm.agents] + [r.address for r in swarm.remote]
    )
    services = len(swarm.agents) + len(swarm.remote)
    voices = swarm.voices()
    listed = "\n".join(f"  {name:20s}  {model}" for name, model in voices)
    temperature = swarm.plan.temperature
    return f"""
Conclave is up: {len(voices)} voices on {services} agent service(s), \
temperature {temperature} unless a request sets one.
{listed}
  gateway (OpenAI API)  {url}/v1      models: {url}/v1/models   health: {url}/health
  dashboard (browser)   {url}/ui/
  leader (gRPC)         {leader}
  agents (gRPC)         {agents}   ({swarm.threads} decode thread(s) each)

Ask the swarm (a majority vote over every voice):
  curl -s {url}/v1/chat/completions -H 'Content-Type: application/json' -d '{{
    "model": "conclave-vote", "max_tokens": 32,
    "messages": [{{"role": "user", "content": "Name a colour."}}]}}'

From Python (pip install openai):
  from openai import OpenAI
  client = OpenAI(base_url="{url}/v1", api_key="unused")
  reply = client.chat.completions.create(model="conclave-vote", max_tokens=32,
      messages=[{{"role": "user", "content": "Name a colour."}}])
  print(reply.choices[0].message.content, reply.model_extra["conclave"]["round_id"])

See every vote:   curl -s {url}/v1/rounds     (or: conclave ask "..." --leader {leader})
{token_note(swarm)}
Press Ctrl-C to stop.
"""


def token_note(swarm: LocalSwarm) -> str:
    files = token_files(swarm)
    if not files or not swarm.plan.swarm_token:
        return ""
    leader = swarm.leader.address if swarm.leader else ""
    return f"""
The gRPC ports require the swarm token (metadata 'authorization: Bearer TOKEN'), kept in
  {files[0].parent}/PORT.token (owner-only), where `conclave ask` and `conclave agent call`
  find it by themselves. Elsewhere: CONCLAVE_SWARM_TOKEN_FILE={files[0]}, or
  grpcurl -plaintext -H "authorization: Bearer $(cat {files[0]})" {leader} list
"""


def token_files(swarm: LocalSwarm) -> list[Path]:
    """The local token file of every gRPC port of the swarm, the leader's first."""
    ports = [swarm.leader.port] if swarm.leader else []
    ports += [agent.port for agent in swarm.agents]
    files = [local_token_file(f"127.0.0.1:{port}") for port in ports if port]
    return [f for f in files if f is not None]


def swarm_token(host: str, *, always: bool) -> str | None:
    """CONCLAVE_SWARM_TOKEN / CONCLAVE_SWARM_TOKEN_FILE when set (agents started elsewhere
    with the same token can then join), else a fresh random token for this swarm when its
    ports reach beyond this machine (or `always`). On loopback alone, none: only this
    machine reaches the ports, and stock tools (grpcurl, the docs' examples) work as is."""
    settings = SwarmClientSettings()
    tls = [n for n in ("swarm_ca", "swarm_cert", "swarm_key") if getattr(settings, n)]
    if tls:
        names = ", ".join(f"CONCLAVE_{n.upper()}" for n in tls)
        raise SwarmError(f"{names}: the local swarm runs without TLS; unset them")
    configured = SwarmSecurity.from_settings(settings).token
    if configured:
        return configured
    return generate_token() if always or not is_loopback(f"{host}:1") else None


async def _main(plan: SwarmPlan) -> None:
    swarm = LocalSwarm(plan)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("starting the local swarm (loading the model)...", flush=True)
    written: list[Path] = []
    try:
        await swarm.start()
        if plan.swarm_token:
            token = f"{plan.swarm_token}\n".encode()
            written = [write_private(f, token) for f in token_files(swarm)]
        print(instructions(swarm), flush=True)
        await stop.wait()
        print("stopping...", flush=True)
    finally:
        await swarm.stop()
        for path in written:  # the token dies with the swarm
            path.unlink(missing_ok=True)
    print("stopped.", flush=True)


def run_up(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    try:
        token = swarm_token(args.host, always=args.token)
    except (SwarmError, SwarmSecurityError, ValidationError) as error:
        print(f"conclave up: {error}")
        return 2
    plan = SwarmPlan(
        swarm_token=token,
        agents=args.agents,
        remote_agents=args.agents_at,
        discover=args.discover,
        host=args.host,
        participants_per_agent=args.participants_per_agent,
        gateway_port=args.port,
        leader_port=args.leader_port,
        first_agent_port=args.agent_port,
        model=args.model,
        voice_models=tuple(m.strip() for m in args.voice_models.split(",") if m.strip())
        if args.voice_models is not None
        else None,
        **({"temperature": args.temperature} if args.temperature is not None else {}),
        slots=args.slots,
        threads=args.threads,
        db=Path(args.db) if args.db else None,
        log_level=args.log_level,
    )
    try:
        asyncio.run(_main(plan))
    except StartupError as error:
        sys.stderr.write(f"conclave up: {error}\n")
        return int(error.code)
    except (OSError, SwarmError) as error:
        sys.stderr.write(f"conclave up: {error}\n")
        return int(ExitCode.SETTINGS)
    return 0
