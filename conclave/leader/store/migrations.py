"""Schema migrations of the round store, tracked in ``PRAGMA user_version``.

``MIGRATIONS[k]`` takes a database from version k to k+1. Each runs in its own
transaction together with the version bump, so a crash leaves the old version intact.
Append only: a shipped migration is never edited, since databases in the field ran it.
"""

from __future__ import annotations

import logging
import sqlite3

from conclave.errors import Unavailable

logger = logging.getLogger(__name__)

_V1_CORE = """
CREATE TABLE rounds (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    strategy TEXT NOT NULL,
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL,
    wall_ms REAL NOT NULL,
    request_json TEXT NOT NULL,
    params_json TEXT NOT NULL,
    tags_json TEXT NOT NULL,
    decision_method TEXT NOT NULL,
    winner_index INTEGER,
    answer TEXT NOT NULL,
    agreement REAL NOT NULL,
    dissent_json TEXT NOT NULL,
    detail TEXT NOT NULL,
    timings_json TEXT NOT NULL
);
CREATE INDEX rounds_created ON rounds (created_at, id);

CREATE TABLE participants (
    round_id TEXT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    agent TEXT NOT NULL,
    system_prompt TEXT NOT NULL,
    weight REAL NOT NULL,
    temperature REAL,
    top_p REAL,
    max_tokens INTEGER,
    seed_offset INTEGER NOT NULL,
    PRIMARY KEY (round_id, position)
);

CREATE TABLE candidates (
    round_id TEXT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    participant TEXT NOT NULL,
    service TEXT NOT NULL,
    sample_index INTEGER NOT NULL,
    turn INTEGER NOT NULL,
    text TEXT NOT NULL,
    answer TEXT NOT NULL,
    finish_reason TEXT NOT NULL,
    error TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    first_token_ms REAL NOT NULL,
    generation_ms REAL NOT NULL,
    PRIMARY KEY (round_id, position)
);

CREATE TABLE vote_groups (
    round_id TEXT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    answer TEXT NOT NULL,
    weight REAL NOT NULL,
    members_json TEXT NOT NULL,
    PRIMARY KEY (round_id, position)
);
"""

# v2: experiments find their rounds by tag; v1 kept tags only inside tags_json.
_V2_TAGS = """
CREATE TABLE round_tags (
    round_id TEXT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (round_id, key)
);
CREATE INDEX round_tags_lookup ON round_tags (key, value);
CREATE INDEX rounds_strategy ON rounds (strategy, created_at);
INSERT INTO round_tags (round_id, key, value)
    SELECT rounds.id, tag.key, tag.value FROM rounds, json_each(rounds.tags_json) AS tag;
"""

# v3: a participant may name which of its agent's models answers (multi-model agents).
_V3_PARTICIPANT_MODEL = """
ALTER TABLE participants ADD COLUMN model TEXT NOT NULL DEFAULT '';
"""

# v4: structured answers: the response format (with its JSON schema), the tools offered
# and the tool choice of each round, as JSON (older rounds: plain text, no tools).
_V4_STRUCTURED = """
ALTER TABLE rounds ADD COLUMN response_format_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE rounds ADD COLUMN tools_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE rounds ADD COLUMN tool_choice TEXT NOT NULL DEFAULT '';
"""

# v5: a round is stored when it starts (status 'running') and its candidates as they
# arrive; a leader that starts marks the rounds its predecessor left running as
# 'interrupted'. This partial index keeps that sweep to the few rounds in flight, not a
# scan of every round ever stored. (Code before v5 would list such rounds as they are and
# never sweep them: it refuses this file instead, see `migrate`.)
_V5_IN_FLIGHT = """
CREATE INDEX rounds_running ON rounds (id) WHERE status = 'running';
"""

# v6: of each candidate's prompt tokens, those its agent found in its KV cache (issue 20's
# prompt cache; older rounds: 0, not measured).
_V6_CACHED_PROMPT_TOKENS = """
ALTER TABLE candidates ADD COLUMN cached_prompt_tokens INTEGER NOT NULL DEFAULT 0;
"""

MIGRATIONS: tuple[str, ...] = (
    _V1_CORE,
    _V2_TAGS,
    _V3_PARTICIPANT_MODEL,
    _V4_STRUCTURED,
    _V5_IN_FLIGHT,
    _V6_CACHED_PROMPT_TOKENS,
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Applies the missing migrations up to `target`; returns the version reached.

    `conn` must be in autocommit mode (isolation_level=None): each step opens its own
    BEGIN IMMEDIATE, so two processes opening one old file migrate it once, in turn.
    """
    if schema_version(conn) > SCHEMA_VERSION:
        raise Unavailable(
            f"round store schema v{schema_version(conn)} is newer than this code "
            f"(v{SCHEMA_VERSION}); upgrade conclave"
        )
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)  # re-read under the write lock
            if version >= target:
                conn.execute("COMMIT")
                return version
            # executescript would COMMIT our transaction first; run statement by statement.
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        logger.info("round store schema migrated to v%d", version + 1)


def _statements(script: str) -> list[str]:
    """Splits a migration into statements (sqlite3.complete_statement knows where one
    ends, so semicolons inside strings or triggers do not break it)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()!r}")
    return statements
