"""The one client library of the leader service, for the gateway, the experiment runner
and `conclave ask`.

- `LeaderClient` (async, grpc.aio): the gateway's, on the server's event loop;
- `LeaderClientSync` (blocking): for plain threads, such as the runner's round pool
  and the CLI. grpc.aio serves one event loop per process: a wrapper that ran the async
  client on a loop of its own beside an in-process leader (the runner's embedded one, the
  tests') would put a second loop in the process, so this one uses grpc's blocking
  channel instead. Both are thin: the stub, the round stream's reading and the round
  spec are `core`'s, every proto conversion is `conclave.leader.convert`'s, and every
  failure is a domain error from the one status table (`conclave.grpc_status`), carrying
  the round id when the leader had started the round.

What comes back is typed: `RoundRecord`s, round events, `RoundSummary` pages,
`AgentListing`s.
"""

from __future__ import annotations

from conclave.leader.client.aio import LeaderClient
from conclave.leader.client.core import RoundPage
from conclave.leader.client.sync import LeaderClientSync

__all__ = ["LeaderClient", "LeaderClientSync", "RoundPage"]
