"""Invalid settings as the one line an operator reads: which flag (and environment
variable) holds the bad value, and what is wrong with it."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from conclave.settings_fields import env_name


def settings_problem(cls: type[BaseModel], error: ValidationError) -> str:
    return "; ".join(_one(cls, e["loc"], e["msg"]) for e in error.errors())


def _one(cls: type[BaseModel], loc: tuple, message: str) -> str:
    # pydantic prefixes the messages of our own validators; the text after it is ours.
    message = message.removeprefix("Value error, ")
    if not loc:
        return message  # a check across fields: its message names the setting
    name = str(loc[0])
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:])
    if where:  # inside an entry (models, participants): written in the config file
        return f"{name}{where} (config file): {message}"
    env = env_name(cls, name)
    flag = f"--{name.replace('_', '-')}"
    return f"{flag} ({env}): {message}" if env else f"{flag}: {message}"
