"""grpc.aio channels, one per (event loop, address), made on first use and reused.

Every client in Conclave that dials a service (the leader's calls to agents, the AutoGen
model client, the gateway's calls to the leader and to agents) takes its channels from a
`Channels`: HTTP/2 multiplexes every stream of this process to one address over one
connection, so participants sharing an agent share its channel.

A grpc.aio channel belongs to the loop it was created in. AutoGen code may call one model
client from several loops over its life (a script running `asyncio.run` twice, a test
runner's per-test loops), so channels are kept per loop: a call from a new loop gets a new
channel instead of a broken one. Channels of a loop that has gone away are dropped
without closing (closing needs that loop).

Every channel carries the process's `SwarmSecurity` (token, TLS), given once here.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

import grpc

from conclave.swarm_security import NO_SECURITY, SwarmSecurity

log = logging.getLogger(__name__)


class Channels:
    def __init__(self, security: SwarmSecurity = NO_SECURITY) -> None:
        """`security`: the swarm token and TLS every channel carries."""
        self.security = security
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, grpc.aio.Channel]
        ] = weakref.WeakKeyDictionary()

    def get(self, address: str) -> grpc.aio.Channel:
        """This loop's channel to `address`; call from inside a running loop."""
        channels = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        channel = channels.get(address)
        if channel is None:
            channel = channels[address] = self.security.aio_channel(address)
            log.debug("opened a channel to %s", address)
        return channel

    async def close(self) -> None:
        """Closes this loop's channels; other loops' channels are forgotten."""
        mine = self._by_loop.pop(asyncio.get_running_loop(), {})
        self._by_loop.clear()
        for channel in mine.values():
            await channel.close()
