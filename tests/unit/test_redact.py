"""Credentials are masked in error text: known secrets, and anything shaped like one."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from conclave.redact import MASK, environment_secrets, redact, secrets_in
from conclave.services.settings import AgentSettings, ModelEntry


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "Incorrect API key provided: sk-proj-AbCdEf0123456789xyz.",
            "Incorrect API key provided: ",
        ),
        ("Authorization: Bearer abc.def-ghi", "Authorization: "),
        ("sent authorization=Basic dXNlcjpwYXNzd29yZA==", "sent authorization="),
        ('{"api_key": "zz-secret-zz"}', '{"api_key": "'),
        ("x-api-key: hunter2hunter2", "x-api-key: "),
        ("token ghp_0123456789abcdefghijklmn used", "token "),
        ("a bearer 0123456789abcdef token", "a bearer "),
    ],
)
def test_credential_shaped_text_is_masked(text, kept):
    masked = redact(text)
    assert masked.startswith(kept)
    assert MASK in masked
    secret = text[len(kept) :].split()[0].strip('".,')
    assert secret not in masked


def test_known_secrets_are_masked_wherever_they_appear():
    text = "upstream said: the key planted-42-key is wrong (planted-42-key)"
    assert redact(text, ["planted-42-key"]) == f"upstream said: the key {MASK} is wrong ({MASK})"


def test_ordinary_text_and_short_values_are_left_alone():
    text = "The capital of France is Paris; the API key setting is optional."
    assert redact(text, ["abc", ""]) == text


def test_secrets_in_finds_every_secret_of_the_settings_entries_included():
    settings = AgentSettings(
        api_key=SecretStr("top-level-key"),
        models=[
            ModelEntry(id="a", backend="litellm", upstream="openai/x", api_key="entry-key"),
            ModelEntry(id="b", path="bundled"),
        ],
    )
    assert sorted(secrets_in(settings)) == ["entry-key", "top-level-key"]


def test_environment_secrets_are_the_credential_variables():
    env = {"OPENAI_API_KEY": "sk-env-123456", "GITHUB_TOKEN": "tok-123456", "HOME": "/root"}
    assert sorted(environment_secrets(env)) == ["sk-env-123456", "tok-123456"]
