"""The configuration reference's *flag* column says what the command lines really take:
every setting it gives a flag is an option of that command, every other one is not."""

from __future__ import annotations

import argparse

import pytest

from conclave.cli.main import build_parser
from conclave.settings_doc import DEPLOYABLES
from conclave.settings_fields import flag_name


def options_of(command: str) -> set[str]:
    """The options a user can give; a hidden option that only refuses a secret (and says
    where it goes instead) is not one."""
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub = commands.choices[command]
    return {
        option
        for action in sub._actions
        if action.help is not argparse.SUPPRESS
        for option in action.option_strings
    }


# The services: one subcommand each (the clients' row names several commands).
SERVICES = [(c.split()[1], cls) for _, c, cls in DEPLOYABLES if "`" not in c]


@pytest.mark.parametrize(("command", "cls"), SERVICES)
def test_the_flag_column_matches_the_parser(command, cls):
    options = options_of(command)
    for name, field in cls.model_fields.items():
        flag = flag_name(name, field)
        if flag is None:
            assert f"--{name.replace('_', '-')}" not in options, name
        else:
            assert flag in options, name


def test_entries_are_config_or_env_only():
    from conclave.leader.settings import LeaderSettings
    from conclave.services.settings import AgentSettings

    assert flag_name("participants", LeaderSettings.model_fields["participants"]) is None
    assert flag_name("models", AgentSettings.model_fields["models"]) is None
    assert flag_name("slots", AgentSettings.model_fields["slots"]) == "--slots"
