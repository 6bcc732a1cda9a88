"""Why a deployable could not start, as one line and an exit code.

A service that cannot start must say so at once and exit: systemd, Kubernetes and
`conclave up` only see an exit code, and a person reads one line, so the message names
the setting to change and how. Each kind of failure has its own exit code
(docs/configuration.md lists them), so a supervisor can tell a typo from a busy port.
"""

from __future__ import annotations

import socket
from enum import IntEnum


class ExitCode(IntEnum):
    SETTINGS = 2  # a setting's value is invalid (a flag, the environment, a config entry)
    CONFIG_FILE = 3  # the config file cannot be read or is not YAML/TOML of settings
    ADDRESS_IN_USE = 4  # the port to listen on is taken, or the host is not ours
    MODEL = 5  # the agent's model cannot be found or loaded
    ROUND_STORE = 6  # the leader's round store (--db) cannot be opened


# What each code means, for the configuration reference (docs/configuration.md).
EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.SETTINGS: "A setting's value is invalid (a flag, an environment variable or a "
    "config file entry), e.g. an address that is not HOST:PORT, `--backend litellm` without "
    "`--upstream`.",
    ExitCode.CONFIG_FILE: "The config file does not exist, cannot be read, is not UTF-8, "
    "is not valid YAML/TOML, or names an unknown setting.",
    ExitCode.ADDRESS_IN_USE: "The port to listen on is taken (or the host is not an address "
    "of this machine).",
    ExitCode.MODEL: "The agent's model cannot be found or loaded.",
    ExitCode.ROUND_STORE: "The leader's round store (`--db`) cannot be opened: a directory, "
    "not a SQLite file, or in a place it may not write.",
}


class StartupError(Exception):
    """A deployable cannot start. The message is the one line the operator reads."""

    def __init__(self, message: str, *, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def check_port_free(host: str, port: int, *, setting: str = "port") -> None:
    """Refuses a taken port before a server tries it: gRPC's core logs a multi-line
    error of its own when a bind fails, and uvicorn only logs one and exits later.
    Port 0 (any free port) needs no check. A port taken between this check and the
    real bind still fails there, with the server's own error."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as error:
        raise StartupError(
            f"host: cannot listen on {host!r} ({error}); set --host to an address of this "
            "machine (127.0.0.1, 0.0.0.0, ::)",
            code=ExitCode.SETTINGS,
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # The servers set SO_REUSEADDR too, so a port in TIME_WAIT is free for them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise port_unavailable(host, port, error, setting=setting) from None


def port_unavailable(host: str, port: int, why: object, *, setting: str = "port") -> StartupError:
    return StartupError(
        f"{setting}: cannot listen on {host}:{port} ({why}); stop what holds it or choose "
        f"another --{setting.replace('_', '-')} (0 picks a free one)",
        code=ExitCode.ADDRESS_IN_USE,
    )
