"""The reusable AutoGen layer of Conclave: it knows agent services, not rounds.

- `ConclaveChatCompletionClient`: an AutoGen `ChatCompletionClient` for one agent service;
- `AgentClients`: the agent service's gRPC API as async calls (`rpc`), over the shared
  channel cache (`conclave.grpc_channels`);
- `messages`, `tokens`: AutoGen messages <-> the agent's chat turns, token estimates;
- `ConcurrentGroupChat`: a team whose turns run concurrently.

Rounds built on them (participants, transcripts, strategies) live in `conclave.leader`;
docs/strategies.md describes both.
"""

from __future__ import annotations

from conclave.agents.client import (
    ConclaveChatCompletionClient,
    ConclaveClientConfig,
    ConclaveCreateResult,
)
from conclave.agents.rpc import AgentClients
from conclave.agents.team import ConcurrentGroupChat

__all__ = [
    "AgentClients",
    "ConclaveChatCompletionClient",
    "ConclaveClientConfig",
    "ConclaveCreateResult",
    "ConcurrentGroupChat",
]
