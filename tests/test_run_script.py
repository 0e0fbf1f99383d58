"""scripts/run installs the dependencies on the first start and when pyproject.toml
changed, never on a plain restart (pip takes 10-20 s even with nothing to do); and
starts on the port in PORT. Run against a copy of the scripts with a stand-in
virtualenv python that records what it is asked to do."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAND_IN = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/../calls.log"
[ "$1" = "--version" ] && echo "Python 3.11.9"
exit 0
"""


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "chatdock"
    (root / "scripts").mkdir(parents=True)
    for name in ("run", "prerequisites"):
        shutil.copy(REPO / "scripts" / name, root / "scripts" / name)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(STAND_IN)
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    return root


def _start(root: Path, **env: str) -> tuple[str, list[str]]:
    log = root / ".venv" / "calls.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(
        ["bash", "scripts/run"],
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    calls = [c for c in log.read_text().splitlines() if c != "--version"]
    return done.stdout, calls


def test_pip_runs_on_the_first_start_and_after_a_dependency_change_only(tmp_path):
    root = _checkout(tmp_path)
    said, calls = _start(root)
    assert "first time: about 2 minutes" in said
    assert calls[0].startswith("-m pip install") and calls[1] == "-m devtools.stack --port 5000"
    said, calls = _start(root, PORT="8123")
    assert "not reinstalling" in said and "about 2 minutes" not in said
    assert calls == ["-m devtools.stack --port 8123"]
    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a new dependency\n")
    said, calls = _start(root)
    assert "pyproject.toml changed" in said
    assert calls[0].startswith("-m pip install") and calls[1] == "-m devtools.stack --port 5000"
