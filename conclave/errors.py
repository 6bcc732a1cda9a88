"""The domain errors of Conclave.

Library code raises only these. Each edge maps them once: to gRPC status codes in
`conclave.grpc_status`, to OpenAI-shaped HTTP errors in the gateway. The message is
written for the person who sent the request, so it names the bad field and its bounds.
"""

from __future__ import annotations


class ConclaveError(Exception):
    """Base class of every error a client may see."""

    # The round a leader call had started when it failed (set by the leader client, so a
    # caller can look the stored round up); None when there was none.
    round_id: str | None = None


class InvalidRequest(ConclaveError):
    """The request itself is wrong; sending it again will not help."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(ConclaveError):
    """A named thing (model, round, participant) does not exist."""


class Overloaded(ConclaveError):
    """More work than the service accepts right now; retry later."""

    def __init__(self, message: str, *, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(ConclaveError):
    """The service (or an upstream it needs) cannot serve now: loading, draining, down."""


class Unauthenticated(Unavailable):
    """A swarm service refused this process's swarm token or certificate. To whoever sent
    the request upstream it is the service being unusable (a gateway answers 503); the
    operator sees UNAUTHENTICATED and fixes the setting."""


class DeadlineExceeded(ConclaveError):
    """The work did not finish within its deadline."""


class Cancelled(ConclaveError):
    """The caller went away."""
