"""Typed settings: a typo stops the process at start with the setting's name and its valid
values (before, ``AUTO_APPROVE=creates-only`` silently meant "never"), lists are parsed
once from the comma-separated environment value, and docs/settings.md is the model's."""

from __future__ import annotations

import os
import subprocess
import sys
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from pydantic import ValidationError

from app import config_docs
from app.config import Settings, SettingsRefused, describe_errors, get_settings
from app.llm.registry import PROVIDER_NAMES

ROOT = Path(__file__).resolve().parent.parent

TYPOS = [
    ("AUTO_APPROVE", "creates-only", "must be one of never, creates_only, always"),
    ("TF_STATE_BACKEND", "gcs", "must be one of local, s3"),
    ("DNS_RECORD_MODE", "cname", "must be one of a, alias"),
    ("LOG_FORMAT", "text", "must be one of json, console"),
    ("LOG_LEVEL", "verbose", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("CLI_LOG_LEVEL", "loud", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("DEFAULT_PROVIDER", "gpt", "must be one of echo, openai, anthropic"),
    ("ENVIRONMENT", "prod", "must be one of development, production"),
    ("JOB_BACKOFF_SECONDS", "5,x", "JOB_BACKOFF_SECONDS[1]: Input should be a valid integer"),
    ("DOMAIN_CHECK_BACKOFF_SECONDS", "60;300", "DOMAIN_CHECK_BACKOFF_SECONDS[0]"),
    ("INGRESS_IPS", "10.0.0.300", "INGRESS_IPS[0]: Input is not a valid IPv4 address"),
    ("INGRESS_IPS", "::1", "INGRESS_IPS[0]: Input is not a valid IPv4 address"),
    ("PLATFORM_HOSTS", "chat.example.com;admin", "'chat.example.com;admin' is not a host name"),
    ("RESERVED_DOMAINS", "ok.example,bad_name.example", "'bad_name.example' is not a host"),
    ("DNS_RESOLVER_ADDRESS", "resolver.local", "does not appear to be an IPv4 or IPv6"),
]


@pytest.mark.parametrize(("name", "value", "message"), TYPOS)
def test_a_typo_is_refused_with_the_valid_values(name: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **{name: value})
    described = describe_errors(refused.value)
    assert described.startswith(f"chatdock: invalid setting {name}")
    assert message in described
    got = described.lower()  # log levels are read in upper case, the others in lower case
    assert f"got {value.lower()!r}" in got or f"got {value.split(',')[-1]!r}" in got
    assert "\n" not in described  # one line for one bad setting


def test_the_process_settings_stop_it_with_one_line_per_bad_setting(monkeypatch) -> None:
    monkeypatch.chdir(ROOT / "docs")  # no .env file here
    monkeypatch.setenv("AUTO_APPROVE", "creates-only")
    monkeypatch.setenv("TF_STATE_BACKEND", "gcs")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsRefused) as refused:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert isinstance(refused.value, SystemExit)
    assert sorted(str(refused.value.code).splitlines()) == [
        "chatdock: invalid setting AUTO_APPROVE: must be one of never, creates_only, always; "
        "got 'creates-only'",
        "chatdock: invalid setting TF_STATE_BACKEND: must be one of local, s3; got 'gcs'",
    ]


def test_secrets_are_never_echoed() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, OPENAI_API_KEY=424242, REDIS_URL=["redis://:pw@x"])
    described = describe_errors(refused.value)
    assert "OPENAI_API_KEY" in described and "REDIS_URL" in described
    assert "424242" not in described and "pw" not in described


def test_lists_parse_from_the_comma_separated_environment(monkeypatch) -> None:
    monkeypatch.chdir(ROOT / "docs")
    env = {
        "PLATFORM_HOSTS": " Chat.Example.com, admin.example.com.,",
        "RESERVED_DOMAINS": "",
        "JOB_BACKOFF_SECONDS": "1, 2,3",
        "DOMAIN_CHECK_BACKOFF_SECONDS": "60",
        "INGRESS_IPS": "10.0.0.10, 10.0.0.9",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.PLATFORM_HOSTS == ["chat.example.com", "admin.example.com"]
    assert settings.RESERVED_DOMAINS == []
    assert settings.JOB_BACKOFF_SECONDS == [1, 2, 3]
    assert settings.DOMAIN_CHECK_BACKOFF_SECONDS == [60]
    assert [IPv4Address("10.0.0.10"), IPv4Address("10.0.0.9")] == settings.INGRESS_IPS
    # Keyword arguments take the same strings (tests and tools pass them), or lists.
    assert Settings(_env_file=None, JOB_BACKOFF_SECONDS="4,5").JOB_BACKOFF_SECONDS == [4, 5]
    assert Settings(_env_file=None, JOB_BACKOFF_SECONDS=[4]).JOB_BACKOFF_SECONDS == [4]


def test_defaults_and_case_insensitive_values() -> None:
    defaults = Settings(_env_file=None)
    assert defaults.JOB_BACKOFF_SECONDS == [5, 15, 45]
    assert defaults.DOMAIN_CHECK_BACKOFF_SECONDS == [60, 300, 900, 1800, 3600]
    assert [IPv4Address("127.0.0.1")] == defaults.INGRESS_IPS
    assert defaults.PLATFORM_HOSTS == [] and defaults.AUTO_APPROVE == "never"
    read = Settings(
        _env_file=None, TF_STATE_BACKEND=" S3", DNS_RECORD_MODE="ALIAS", LOG_LEVEL="info"
    )
    assert (read.TF_STATE_BACKEND, read.DNS_RECORD_MODE, read.LOG_LEVEL) == ("s3", "alias", "INFO")


def test_provider_names_are_the_settings_choices() -> None:
    assert PROVIDER_NAMES == ("echo", "openai", "anthropic")
    for name in PROVIDER_NAMES:
        assert name == Settings(_env_file=None, DEFAULT_PROVIDER=name).DEFAULT_PROVIDER


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    return subprocess.run(
        args,
        cwd=ROOT,
        env={**base, "FLASK_APP": "wsgi.py", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_flask_stops_with_one_clear_line(tmp_path: Path) -> None:
    result = _run(
        [sys.executable, "-m", "flask", "routes"],
        AUTO_APPROVE="bogus",
        DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "chatdock: invalid setting AUTO_APPROVE: must be one of never, creates_only, always; "
        "got 'bogus'"
    )
    assert "Traceback" not in result.stderr + result.stdout


def test_the_wsgi_entry_stops_with_one_clear_line(tmp_path: Path) -> None:
    result = _run([sys.executable, "-c", "import wsgi"], TF_STATE_BACKEND="gcs")
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "chatdock: invalid setting TF_STATE_BACKEND: must be one of local, s3; got 'gcs'"
    )


def test_the_settings_reference_is_generated_from_the_code() -> None:
    assert config_docs.SETTINGS_DOC.read_text(encoding="utf-8") == config_docs.render(), (
        "docs/settings.md is stale: run python -m app.config_docs"
    )
    page = config_docs.render()
    for name in Settings.model_fields:
        assert f"| `{name}` |" in page
    assert "| `AUTO_APPROVE` | one of `never`, `creates_only`, `always` | `never` |" in page
    assert "| `JOB_BACKOFF_SECONDS` | comma-separated integers | `5,15,45` |" in page
