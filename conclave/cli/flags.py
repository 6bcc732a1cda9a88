"""Command-line flags made from a settings class, as llama-cpp-python's server makes them.

Every field whose value fits on a command line becomes a flag: `port` is `--port`,
`context_size` is `--context-size`; its help is the field's description, with the
default and the environment variable; a `Literal` field takes only its values; a `bool`
is `--flag` / `--no-flag`; a list is comma-separated. Fields that hold entries (`models`,
`participants`) are for the config file, and so are secrets marked `{"flag": False}` (the
swarm token): every local user can read a command line in `ps`. A flag that is not given
is not passed on, so it never overrides the environment or the config file.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from conclave.settings_fields import default_text, env_name, flag_name, flag_options


def add_settings_flags(
    parser: argparse.ArgumentParser,
    settings: type[BaseModel],
    *,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """One flag per field of `settings` that a command line can hold; `aliases` adds
    spellings (e.g. `config_file`: `--config`)."""
    for name, field in settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get("flag") is False:
            _refuse_flag(parser, settings, name)
            continue
        options = flag_options(field.annotation)
        if options is None:
            continue
        flags = [flag_name(name, field), *(aliases or {}).get(name, ())]
        parser.add_argument(
            *flags,
            dest=name,
            default=argparse.SUPPRESS,
            help=_help(settings, name, field),
            **options,
        )


def _refuse_flag(parser: argparse.ArgumentParser, settings: type[BaseModel], name: str) -> None:
    """A secret's flag exists only to say where the secret goes instead: left out, argparse
    would take `--swarm-token X` for an abbreviation of `--swarm-token-file` and read the
    secret as a path."""
    where = env_name(settings, name) or "the environment"

    class Refuse(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            parser.error(
                f"{option_string} is not a flag (the command line shows in `ps`): "
                f"set {where}, or its _FILE twin"
            )

    parser.add_argument(
        f"--{name.replace('_', '-')}",
        action=Refuse,
        nargs="?",
        dest=f"refused_{name}",
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )


def given_settings(settings: type[BaseModel], args: argparse.Namespace) -> dict[str, Any]:
    """The fields of `settings` that were given as flags."""
    return {name: getattr(args, name) for name in settings.model_fields if hasattr(args, name)}


def _help(settings: type[BaseModel], name: str, field: FieldInfo) -> str:
    notes = []
    default = default_text(name, field)
    if default is not None and "default" not in (field.description or "").lower():
        notes.append(f"default: {default}")
    env = env_name(settings, name)
    if env:
        notes.append(f"env {env}")
    text = (field.description or "").rstrip(".")
    # argparse formats help with %: a literal percent sign must be doubled.
    return (f"{text} ({'; '.join(notes)})" if notes else text).replace("%", "%%")
