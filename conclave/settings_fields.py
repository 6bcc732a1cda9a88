"""How a settings field reads to a person: its default, and the environment variable
that sets it. Shared by the generated configuration reference (`settings_doc`) and the
generated command-line flags (`conclave.cli.flags`), so the two say the same thing."""

from __future__ import annotations

import json

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

# Defaults that depend on the machine or the user are described, not computed.
MACHINE_DEFAULTS = {
    "name": "the hostname",
    "model_cache_dir": "~/.cache/conclave/models",
    "db": "~/.local/state/conclave/rounds.db",
}


def default_text(name: str, field: FieldInfo) -> str | None:
    """The default as a person should read it; None when there is none (a required
    field, or one unset by default)."""
    if field.default_factory is not None:
        if name in MACHINE_DEFAULTS:
            return MACHINE_DEFAULTS[name]
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return None
    else:
        value = field.default
    if value is None or hasattr(value, "get_secret_value"):
        return None
    if isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
        # Built-in entries (the chat format's demonstrations): too long for one cell.
        return f"{len(value)} built-in entries"
    return value if isinstance(value, str) else json.dumps(value)


def env_name(cls: type[BaseModel], name: str) -> str | None:
    """The environment variable of a settings class's field (None: not a settings class)."""
    prefix = cls.model_config.get("env_prefix")
    return f"{prefix}{name.upper()}" if prefix else None
