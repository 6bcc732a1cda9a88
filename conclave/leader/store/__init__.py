"""The round store: every round of the leader in SQLite (WAL), found again by id, time,
strategy or tag. See `round_store` for the API and `migrations` for the schema."""

from __future__ import annotations

from conclave.leader.store.migrations import SCHEMA_VERSION
from conclave.leader.store.paths import default_db_path
from conclave.leader.store.round_store import INTERRUPTED, RUNNING, RoundStore
from conclave.leader.store.summary import RoundSummary

__all__ = [
    "INTERRUPTED",
    "RUNNING",
    "SCHEMA_VERSION",
    "RoundStore",
    "RoundSummary",
    "default_db_path",
]
