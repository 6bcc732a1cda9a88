"""`conclave up` (and `make run`): the whole local swarm, with copy-paste instructions."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from conclave.cli.logs import configure_logging
from conclave.swarm import LocalSwarm, SwarmError, SwarmPlan


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
  leader (gRPC)         {leader}
  agents (gRPC)         {agents}

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
Press Ctrl-C to stop.
"""


async def _main(plan: SwarmPlan) -> None:
    swarm = LocalSwarm(plan)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("starting the local swarm (loading the model)...", flush=True)
    try:
        await swarm.start()
        print(instructions(swarm), flush=True)
        await stop.wait()
        print("stopping...", flush=True)
    finally:
        await swarm.stop()
    print("stopped.", flush=True)


def run_up(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    plan = SwarmPlan(
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
        db=Path(args.db) if args.db else None,
        log_level=args.log_level,
    )
    try:
        asyncio.run(_main(plan))
    except (OSError, SwarmError) as error:
        print(f"conclave up: {error}")
        return 1
    return 0
