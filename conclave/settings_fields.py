"""How a settings field reads to a person: its default, the environment variable that
sets it, and whether a command line can hold it (its flag). Shared by the generated
configuration reference (`settings_doc`) and the generated command-line flags
(`conclave.cli.flags`), so the two say the same thing."""

from __future__ import annotations

import argparse
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
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


# type -> (how argparse reads it, how help names it); pydantic turns text into a Path or a
# secret.
_SCALARS: dict[type, tuple[Any, str]] = {
    str: (str, "TEXT"),
    int: (int, "N"),
    float: (float, "NUM"),
    Path: (str, "PATH"),
    SecretStr: (str, "SECRET"),
}


def flag_options(annotation: Any) -> dict[str, Any] | None:
    """argparse options for a field's type; None when it does not fit a command line
    (entries such as `models` or `participants`: config file or environment only)."""
    kinds = [a for a in _members(annotation) if a is not type(None)]
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(kind) is Literal:
        return {"choices": list(typing.get_args(kind))}
    if typing.get_origin(kind) is list and typing.get_args(kind) == (str,):
        return {"type": _comma_list, "metavar": "A,B,..."}
    if kind in _SCALARS:
        read, metavar = _SCALARS[kind]
        return {"type": read, "metavar": metavar}
    return None


def flag_name(name: str, field: FieldInfo) -> str | None:
    """The field's command-line flag, e.g. `--context-size`; None if it has none: a type a
    command line cannot hold, or a secret marked `flag: False` (it would show in `ps`)."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if extra.get("flag") is False or flag_options(field.annotation) is None:
        return None
    return f"--{name.replace('_', '-')}"


def _members(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def env_name(cls: type[BaseModel], name: str) -> str | None:
    """The environment variable of a settings class's field (None: not a settings class)."""
    prefix = cls.model_config.get("env_prefix")
    return f"{prefix}{name.upper()}" if prefix else None
