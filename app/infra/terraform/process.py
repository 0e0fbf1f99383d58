"""Terraform's process groups: nothing a command starts may outlive it, or the worker.

Terraform runs in its own process group, which is always gone when a runner method
returns or raises, also when the caller is interrupted by an exception from a signal
handler (RQ's job timeout) or by SystemExit/KeyboardInterrupt: SIGINT (terraform stops
gracefully and releases its state lock), then SIGTERM, then SIGKILL; and when this
process is SIGKILLed, the group's guard (``guard.py``, Linux) kills terraform and its
providers.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from app.infra.terraform.events import Output, StdoutMode, split_lines

LogFn = Callable[[str], None]
AbortCheck = Callable[[bool], str | None]

GUARD = Path(__file__).with_name("guard.py")
_READ_SIZE = 65536
_TICK_SECONDS = 0.5
_ORPHAN_PIPE_SECONDS = 2.0

_live: dict[int, subprocess.Popen[bytes]] = {}
_live_lock = threading.RLock()  # re-entrant: terminate_running() may run in a signal handler


def running_groups() -> list[int]:
    """Process group ids of the terraform commands running in this process."""
    with _live_lock:
        return list(_live)


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # the id was reused by someone else's group
        return False


def terminate_running(grace: float = 5.0) -> None:
    """Stop every running terraform command: SIGINT, up to ``grace`` s, SIGTERM, SIGKILL.

    For a worker's shutdown path (atexit, a SIGTERM handler). The runner's own cleanup
    still reaps the processes when its call unwinds.
    """
    groups = running_groups()
    for pgid in groups:
        signal_group(pgid, signal.SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_leader_running(pgid) for pgid in groups):
        time.sleep(0.05)
    if any(_leader_running(pgid) for pgid in groups):
        for pgid in groups:
            signal_group(pgid, signal.SIGTERM)
        time.sleep(min(0.5, grace))
    for pgid in groups:
        signal_group(pgid, signal.SIGKILL)  # also stragglers of groups whose leader left


def _leader_running(pgid: int) -> bool:
    with _live_lock:
        proc = _live.get(pgid)
    return proc is not None and proc.poll() is None


atexit.register(terminate_running)


class Command:
    """One running terraform process: reads its output as it comes, and stops it."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        output: Output,
        mode: StdoutMode,
        log: LogFn,
        abort: AbortCheck | None = None,
    ) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.abort = abort
        self.aborted: str | None = None
        with _live_lock:
            _live[proc.pid] = proc
        self.proc, self.output, self.mode, self.log = proc, output, mode, log
        self.quiet = False
        self.selector = selectors.DefaultSelector()
        self.partial: dict[int, bytes] = {}
        self.is_stdout: dict[int, bool] = {}
        for pipe, is_stdout in ((proc.stdout, True), (proc.stderr, False)):
            self.selector.register(pipe, selectors.EVENT_READ)
            self.partial[pipe.fileno()], self.is_stdout[pipe.fileno()] = b"", is_stdout
        self.exited_at: float | None = None

    def pump(self, deadline: float, *, abortable: bool = True) -> bool:
        """Read output until terraform has exited (True), ``deadline`` passed or the abort
        check asked to stop (False, with ``aborted`` set)."""
        while self.selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                return False
            if abortable and self.abort is not None and self.exited_at is None:
                self.aborted = self.abort(False)
                if self.aborted is not None:
                    return False
            if self.exited_at is None and self.proc.poll() is not None:
                self.exited_at = now
            if self.exited_at is not None and now - self.exited_at > _ORPHAN_PIPE_SECONDS:
                break  # terraform is gone but a straggler holds the pipes: killed in cleanup
            for key, _ in self.selector.select(min(deadline - now, _TICK_SECONDS)):
                self._read(key)
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self, grace: float) -> None:
        """SIGINT the group (terraform stops gracefully: state saved, lock released), then
        SIGTERM, then SIGKILL; output is still read (and logged) meanwhile."""
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, min(grace, 5.0))):
            if self.proc.poll() is not None:
                return
            signal_group(self.proc.pid, sig)
            if self.pump(time.monotonic() + wait, abortable=False):
                return
        signal_group(self.proc.pid, signal.SIGKILL)

    def cleanup(self, grace: float) -> None:
        """Leave nothing behind, also when unwinding from an exception of the caller
        (then the log callback may be what failed: its errors are ignored here)."""
        try:
            if self.proc.poll() is None:
                self.quiet = True
                self._log("[warn] interrupted while terraform runs: stopping it")
                self.stop(grace)
        finally:
            signal_group(self.proc.pid, signal.SIGKILL)  # stragglers (providers) of the group
            self.proc.wait()
            self.selector.close()
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
            with _live_lock:
                _live.pop(self.proc.pid, None)

    def _read(self, key: selectors.SelectorKey) -> None:
        fd = key.fd
        chunk = os.read(fd, _READ_SIZE)
        if not chunk:
            self.selector.unregister(key.fileobj)
            lines, self.partial[fd] = [self.partial[fd]] if self.partial[fd] else [], b""
        elif self.is_stdout[fd] and self.mode == "capture":
            self.output.stdout += chunk
            return
        else:
            lines, self.partial[fd] = split_lines(self.partial[fd] + chunk)
        for line in lines:
            self._handle_line(line, from_stdout=self.is_stdout[fd])

    def _handle_line(self, raw: bytes, *, from_stdout: bool) -> None:
        line = self.output.add_line(raw, from_stdout=from_stdout, mode=self.mode)
        if line is not None:
            self._log(line)

    def _log(self, line: str) -> None:
        if not self.quiet:
            self.log(line)
            return
        with contextlib.suppress(Exception):
            self.log(line)
