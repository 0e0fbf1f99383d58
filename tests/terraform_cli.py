"""The real terraform binary for tests that run it on small modules (no registry, no
network): one place that finds it and runs it with a clean environment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from app.config import Settings

TF_BINARY = Settings(_env_file=None).TF_BINARY


def terraform(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``terraform ARGS`` in ``cwd``; a missing binary fails the test (scripts/test checks
    for it before the suite starts)."""
    binary = shutil.which(TF_BINARY)
    assert binary, f"terraform ({TF_BINARY}) is not installed: see scripts/prerequisites"
    return subprocess.run(
        [binary, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={"PATH": "/usr/bin:/bin", "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"},
    )
