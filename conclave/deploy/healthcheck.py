"""Wait until a Conclave service reports healthy: the start check of the systemd units and
the Docker HEALTHCHECK.

    python -m conclave.deploy.healthcheck grpc --addr 127.0.0.1:50051 [--wait 600] \
        [--settings-env CONCLAVE_AGENT_]
    python -m conclave.deploy.healthcheck http --addr 127.0.0.1:8080 [--path /health]

`--settings-env PREFIX` dials with the swarm token and certificates of the service whose
settings have that environment prefix (CONCLAVE_AGENT_SWARM_CA, ...): a TLS port can only
be checked over TLS, and health may be closed to callers without the token.

The services have no sd_notify support, so a unit cannot be Type=notify; instead its
ExecStartPost runs this, and the unit turns "active" only once the service answers SERVING
(grpc.health.v1, i.e. the agent's model is loaded) or HTTP 200. Exit codes: 0 healthy,
1 not healthy within --wait seconds, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a gRPC check runs: an HTTP check stays light
    from conclave.swarm_security import SwarmSecurity

# A service bound to the wildcard address is reached on loopback from the same host.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1", "[::]": "[::1]"}


def local_address(addr: str) -> str:
    """HOST:PORT to dial for a service that listens on `addr` (wildcards become loopback)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {addr!r} is not HOST:PORT")
    host = _WILDCARDS.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # a bare IPv6 literal needs brackets before the port
    return f"{host}:{port}"


def grpc_status(
    addr: str, service: str = "", timeout: float = 2.0, security: SwarmSecurity | None = None
) -> str:
    """The grpc.health.v1 status name of `service` at `addr` ("UNREACHABLE" if no answer)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from conclave.swarm_security import NO_SECURITY

    with (security or NO_SECURITY).channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            return "UNREACHABLE" if code == grpc.StatusCode.UNAVAILABLE else code.name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def http_status(url: str, timeout: float = 2.0) -> str:
    """ "200", another HTTP status, or "UNREACHABLE"."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return str(reply.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except (urllib.error.URLError, OSError):
        return "UNREACHABLE"


def wait_until(
    probe: Callable[[], str],
    healthy: str,
    wait: float,
    interval: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, str]:
    """Probe until it returns `healthy` or `wait` seconds pass; (healthy?, last status)."""
    deadline = clock() + wait
    while True:
        status = probe()
        if status == healthy:
            return True, status
        if clock() + interval > deadline:
            return False, status
        sleep(interval)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conclave.deploy.healthcheck", description=__doc__.split("\n\n")[0]
    )
    kinds = parser.add_subparsers(dest="kind", required=True)
    for kind, help_text in (("grpc", "grpc.health.v1 check"), ("http", "HTTP GET, 200 = ok")):
        sub = kinds.add_parser(kind, help=help_text)
        sub.add_argument("--addr", required=True, help="HOST:PORT the service listens on")
        sub.add_argument("--wait", type=float, default=0.0, help="seconds to keep trying")
        sub.add_argument("--interval", type=float, default=1.0, help="seconds between tries")
        sub.add_argument("--timeout", type=float, default=2.0, help="seconds per try")
        if kind == "grpc":
            sub.add_argument("--service", default="", help="health service name ('' = server)")
            sub.add_argument(
                "--settings-env",
                metavar="PREFIX",
                help="dial with the swarm_* settings of this environment prefix "
                "(e.g. CONCLAVE_AGENT_): its token and TLS certificates",
            )
        else:
            sub.add_argument("--path", default="/health", help="URL path to GET")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        addr = local_address(args.addr)
    except ValueError as error:
        sys.stderr.write(f"healthcheck: {error}\n")
        return 2
    if args.kind == "grpc":
        from conclave.swarm_security import (
            NO_SECURITY,
            SwarmSecurity,
            SwarmSecurityError,
            swarm_fields_from_env,
        )

        try:
            security = (
                SwarmSecurity.from_settings(swarm_fields_from_env(args.settings_env))
                if args.settings_env
                else NO_SECURITY
            )
        except (SwarmSecurityError, ValueError) as error:
            sys.stderr.write(f"healthcheck: {error}\n")
            return 2
        target = f"{addr} (grpc health {args.service or 'server'})"
        ok, status = wait_until(
            lambda: grpc_status(addr, args.service, args.timeout, security),
            "SERVING",
            args.wait,
            args.interval,
        )
    else:
        url = f"http://{addr}{args.path}"
        target = url
        ok, status = wait_until(
            lambda: http_status(url, args.timeout), "200", args.wait, args.interval
        )
    if ok:
        print(f"healthcheck: {target} is healthy", flush=True)
        return 0
    sys.stderr.write(f"healthcheck: {target} not healthy after {args.wait:g} s: {status}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
