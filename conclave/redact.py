"""Secrets taken out of error text before it crosses an edge or is stored.

An upstream may echo the key it was sent in its error (a LiteLLM provider's 401 text),
and that text used to travel on: into the agent's gRPC status, the leader's round store,
the gateway's 503 body and `GET /v1/rounds/{id}`. Every place that turns an error into
text for someone else passes it through `redact`: the secrets it knows (its settings'
`SecretStr` values) are replaced, and so is anything shaped like a credential
(`Authorization: ...`, `Bearer ...`, `sk-...` keys, `api_key=...`), known or not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from pydantic import BaseModel, SecretStr

MASK = "[redacted]"
# Shorter known values are not masked: a key of 3 characters would mask ordinary words.
MIN_SECRET_CHARS = 6

_CREDENTIALS = re.compile(
    r"(?i)"
    r"(?P<header>\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token)\s+)?[^\s\"',;}]+"
    r"|(?P<bearer>\bbearer\s+)[A-Za-z0-9._~+/=-]{4,}"
    r"|(?P<named>\b(?:x-)?api[-_]?key\b[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"
    r"|\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{16,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{8,}"
)
# Environment variables that hold provider credentials (LiteLLM reads OPENAI_API_KEY & co.
# when a model sets no key of its own).
_SECRET_ENV = re.compile(r"(?i)(API_KEY|_TOKEN|_SECRET|PASSWORD)$")


def redact(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every known secret and every credential-shaped string masked."""
    for secret in sorted({s for s in known if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _CREDENTIALS.sub(_mask_credential, text)


def _mask_credential(match: re.Match[str]) -> str:
    # Keep the name of what was masked ("Authorization: [redacted]"): the reader learns
    # that a credential was there and which one, never its value.
    prefix = match.group("header") or match.group("bearer") or match.group("named") or ""
    return prefix + MASK


def secrets_in(settings: BaseModel) -> list[str]:
    """Every SecretStr value of `settings`, nested entries (a `models` list) included."""
    found: list[str] = []

    def visit(value: object) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                visit(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)

    visit(settings)
    return [s for s in found if s]


def environment_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Values of the environment's credential variables (OPENAI_API_KEY, ..._TOKEN)."""
    env = os.environ if environ is None else environ
    return [v for k, v in env.items() if _SECRET_ENV.search(k) and len(v) >= MIN_SECRET_CHARS]
