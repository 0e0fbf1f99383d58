"""The `flask` command as an operator runs it, in its own process: what it prints on
stdout and stderr, where its logs go, and what its start-up imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The settings an operator's shell would not have: the tests' own (REDIS_URL, ...) stay out.
DROPPED = ("DATABASE_URL", "REDIS_URL", "CLI_LOG_FILE", "CLI_LOG_LEVEL", "LOG_LEVEL")


@pytest.fixture
def flask_cmd(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update(FLASK_APP="wsgi.py", DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("db", "upgrade").returncode == 0
    return run


def test_operator_commands_keep_info_logs_off_stderr_and_in_the_log_file(flask_cmd, tmp_path):
    number = flask_cmd("accounts", "create", "--name", "Logs").stdout.strip()
    quiet = flask_cmd("clients", "create", "bot", "--account", number)
    assert quiet.returncode == 0, quiet.stderr
    assert "created client bot" in quiet.stdout
    assert quiet.stderr == ""  # client_created is logged at INFO: not on the operator's screen

    log_file = tmp_path / "cli.log"
    logged = flask_cmd("clients", "create", "bot2", "--account", number, CLI_LOG_FILE=str(log_file))
    assert logged.returncode == 0 and logged.stderr == ""
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(e["event"] == "client_created" and e["client"] == "bot2" for e in events)

    loud = flask_cmd("clients", "create", "bot3", "--account", number, CLI_LOG_LEVEL="INFO")
    assert '"event": "client_created"' in loud.stderr


def test_starting_the_app_does_not_import_the_provider_sdks():
    probe = "import sys, wsgi; print([m for m in ('openai', 'anthropic') if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
