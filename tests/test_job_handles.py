"""Jobs are enqueued by handle (``app.queue.JOBS``): each handle names a job function the
worker can import, and no other module spells a job's dotted path."""

from __future__ import annotations

import re
from pathlib import Path

from werkzeug.utils import import_string

from app.queue import JOBS

ROOT = Path(__file__).resolve().parent.parent
DOTTED_JOB = re.compile(r"""["']jobs\.[a-z_]+\.[a-z_]+["']""")


def test_every_handle_names_a_job_function():
    for handle, path in JOBS.items():
        function = import_string(path)
        assert callable(function), handle
        assert function.__module__.startswith("jobs."), handle
        assert function.__name__ == path.rsplit(".", 1)[1]


def test_only_the_queue_module_spells_dotted_job_paths():
    spelled = [
        f"{path.relative_to(ROOT)}: {match.group()}"
        for folder in ("app", "jobs", "tests", "bench", "scripts")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "app" / "queue.py" and path != Path(__file__).resolve()
        for match in DOTTED_JOB.finditer(path.read_text())
    ]
    assert spelled == [], "enqueue by handle: app.queue.JOBS[...]"
