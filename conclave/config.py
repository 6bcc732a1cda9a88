"""The base of every deployable's settings: CLI flags > environment > config file > defaults.

Each deployable (agent, leader, gateway) has one settings class with its own env prefix.
The optional config file (YAML or TOML) is named by the `config_file` setting itself, so
`--config FILE`, `CONCLAVE_AGENT_CONFIG_FILE=FILE` and a config file in a systemd unit all
work the same way. Settings objects are built once at start-up and passed down; nothing
reads them from a global.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


class ConfigFileError(ValueError):
    """The config file cannot be read, or is not a YAML/TOML mapping of known settings.
    The message is one line that names the file and what to fix."""


def read_config_file(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigFileError(f"config file {path} is a directory; name a YAML or TOML file")
    if not path.is_file():
        raise ConfigFileError(f"config file {path} does not exist; check --config")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigFileError(f"config file {path} cannot be read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigFileError(
            f"config file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(f"config file {path} is not valid TOML: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigFileError(
            f"config file {path} is not valid YAML: {_yaml_problem(error)}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"config file {path} must hold a mapping of setting names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's message spans lines (it quotes the text); the problem and where it is."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


class _ConfigFileSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: str | os.PathLike | None) -> None:
        super().__init__(settings_cls)
        self._values = read_config_file(Path(path)) if path else {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        known = self.settings_cls.model_fields
        unknown = sorted(set(self._values) - set(known))
        if unknown:
            hints = [
                f"{key} (did you mean {close[0]}?)" if close else key
                for key in unknown
                for close in [difflib.get_close_matches(key, list(known), n=1)]
            ]
            raise ConfigFileError(f"config file: unknown setting(s): {', '.join(hints)}")
        return dict(self._values)


class ConclaveSettings(BaseSettings):
    """Subclasses set `model_config = SettingsConfigDict(env_prefix=...)` and add fields."""

    config_file: Path | None = Field(
        None, description="YAML or TOML file with any of these settings (lowest precedence)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        prefix = settings_cls.model_config.get("env_prefix", "")
        path = getattr(init_settings, "init_kwargs", {}).get("config_file") or os.environ.get(
            f"{prefix}CONFIG_FILE"
        )
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            _ConfigFileSource(settings_cls, path),
            file_secret_settings,
        )
