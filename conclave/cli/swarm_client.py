"""The swarm credentials of the command-line clients (`conclave ask`, `agent call`,
`experiment run`): `--swarm-token-file`, `--swarm-ca`, ... over CONCLAVE_SWARM_TOKEN,
CONCLAVE_SWARM_CA, ...; with neither, a loopback address gets the token `conclave up`
left for its local swarm (`local_token_file`), so `conclave ask` works next to it as is."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from conclave.cli.flags import add_settings_flags, given_settings
from conclave.swarm_security import (
    SwarmClientSettings,
    SwarmSecurity,
    SwarmSecurityError,
    local_token_file,
)


class ClientSettingsError(ValueError):
    """The client's swarm settings cannot be used; one line for stderr."""


def add_swarm_flags(parser: argparse.ArgumentParser) -> None:
    add_settings_flags(parser, SwarmClientSettings)


def swarm_settings(args: argparse.Namespace) -> SwarmClientSettings:
    try:
        return SwarmClientSettings(**given_settings(SwarmClientSettings, args))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ClientSettingsError(f"swarm settings: {problems}") from None


def client_security(settings: SwarmClientSettings, address: str) -> SwarmSecurity:
    try:
        return SwarmSecurity.from_settings(settings, fallback_token_file=local_token_file(address))
    except SwarmSecurityError as error:
        raise ClientSettingsError(str(error)) from None
