"""The run command's supervisor: a worker that exits is started again while the rest
keeps serving; any other child exiting stops everything with a clear message."""

from __future__ import annotations

import os
import sys
import threading
import time

from devtools.stack import Child, _supervise


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_dying_worker_is_restarted_and_the_rest_keeps_running(tmp_path, capfd):
    runs = tmp_path / "runs"
    worker = Child(
        "worker",
        [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(3)"],
        restart=True,
    )
    server = Child("gunicorn", [sys.executable, "-c", "import time; time.sleep(120)"])
    for child in (worker, server):
        child.start(dict(os.environ))
    stop = threading.Event()
    result: list[int] = []
    supervisor = threading.Thread(
        target=lambda: result.append(_supervise([worker, server], dict(os.environ), stop))
    )
    supervisor.start()
    try:
        wait_for(lambda: runs.exists() and len(runs.read_text()) >= 3)  # started 3 times
        assert supervisor.is_alive() and server.proc.poll() is None
    finally:
        stop.set()
        supervisor.join(timeout=60)
    assert result == [0]
    assert server.proc.poll() is not None  # stopped with the stack
    assert "worker exited with code 3: starting it again in" in capfd.readouterr().err


def test_the_server_exiting_stops_everything_and_says_so(capfd):
    worker = Child("worker", [sys.executable, "-c", "import time; time.sleep(120)"], restart=True)
    server = Child("gunicorn", [sys.executable, "-c", "raise SystemExit(4)"])
    for child in (worker, server):
        child.start(dict(os.environ))
    assert _supervise([worker, server], dict(os.environ), threading.Event()) == 4
    assert worker.proc.poll() is not None
    assert "gunicorn exited with code 4: stopping everything" in capfd.readouterr().err
