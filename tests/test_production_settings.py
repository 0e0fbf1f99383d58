"""Production refuses the published development SECRET_KEY (anyone could sign a session
or remember cookie with it); development keeps working with nothing configured. (Its
cookies' Secure flag: tests/admin/test_console_security.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import DEV_SECRET_KEY, InsecureSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "k" * 40
ENCRYPTION_KEY = "yYv3jHkq0F6C2f2j8qzQp3JcM7k1lS8nQ0wY9u4XbZE="  # a Fernet key (tests only)


def _flask(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ENVIRONMENT")}
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=ROOT,
        env={**base, "FLASK_APP": "wsgi.py", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("key", [None, DEV_SECRET_KEY, "short-secret-value"])
def test_production_refuses_the_default_or_a_short_secret_key(key, tmp_path):
    env = {"ENVIRONMENT": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    if key is not None:
        env["SECRET_KEY"] = key
    result = _flask("accounts", "list", **env)
    assert result.returncode != 0
    assert "ENVIRONMENT=production needs its own SECRET_KEY" in result.stderr
    if key is not None:
        assert key not in result.stderr + result.stdout  # the secret is never echoed


def test_production_starts_with_its_own_secret_key(tmp_path):
    db_url = f"sqlite:///{tmp_path}/x.db"
    env = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": GOOD_KEY,
        "SECRETS_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "DATABASE_URL": db_url,
    }
    assert _flask("db", "upgrade", **env).returncode == 0
    result = _flask("accounts", "list", **env)
    assert result.returncode == 0, result.stderr


def test_development_runs_on_the_default_key():
    assert Settings(_env_file=None).ENVIRONMENT == "development"
    assert Settings(_env_file=None).SECRET_KEY.get_secret_value() == DEV_SECRET_KEY
    with pytest.raises(InsecureSettings):
        Settings(_env_file=None, ENVIRONMENT="production")
    assert Settings(
        _env_file=None,
        ENVIRONMENT="production",
        SECRET_KEY=GOOD_KEY,
        SECRETS_ENCRYPTION_KEYS=ENCRYPTION_KEY,
    )
