"""A small typed runner over the terraform CLI (1.x), reading its ``-json`` output.

Why not python-terraform: it is unmaintained and wrong for Terraform 1.x (``destroy``
passes the removed ``-force``; applying a saved plan adds a ``-var-file``).

Guarantees, because jobs run unattended in RQ workers:

- every command streams its output line by line into ``log`` while it runs (``-json``
  events as ``[level] message``, diagnostics with summary and detail);
- a failure raises :class:`TerraformError` carrying the diagnostics and ``transient``
  (network, throttling, state lock, timeouts: worth a retry) vs not (configuration,
  stale plan, access denied: a retry gives the same answer);
- terraform runs in its own process group, which is always gone when a method returns
  or raises, also when the caller is interrupted by an exception from a signal handler
  (RQ's job timeout) or by SystemExit/KeyboardInterrupt: SIGINT (terraform stops
  gracefully and releases its state lock), then SIGTERM, then SIGKILL; and when this
  process is SIGKILLed, the group's guard (``tf_guard.py``, Linux) kills terraform and
  its providers;
- the environment of terraform is controlled: inherited ``TF_*`` variables (which could
  inject arguments via ``TF_CLI_ARGS`` or another CLI config) are dropped, automation
  variables are set, and the caller's ``env`` is added. Environment values are never
  logged.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

LogFn = Callable[[str], None]
ErrorKind = Literal["transient", "stale_plan", "configuration"]

AUTOMATION_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
DEFAULT_GRACE_SECONDS = 10.0
_READ_SIZE = 65536
_TICK_SECONDS = 0.5
_ORPHAN_PIPE_SECONDS = 2.0
GUARD = Path(__file__).with_name("tf_guard.py")


# --- results and errors ------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnostic:
    """One terraform diagnostic (error or warning) from the ``-json`` stream."""

    severity: str
    summary: str
    detail: str = ""
    address: str | None = None
    location: str | None = None  # "main.tf line 3" for configuration errors

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Diagnostic:
        raw = event.get("diagnostic") or {}
        rng = raw.get("range") or {}
        location = None
        if rng.get("filename"):
            line = (rng.get("start") or {}).get("line")
            location = f"{rng['filename']} line {line}" if line else rng["filename"]
        return cls(
            severity=str(raw.get("severity") or event.get("@level") or "error"),
            summary=str(raw.get("summary") or event.get("@message") or ""),
            detail=str(raw.get("detail") or ""),
            address=raw.get("address"),
            location=location,
        )

    def text(self) -> str:
        where = ", ".join(part for part in (self.address, self.location) if part)
        head = f"{self.summary} ({where})" if where else self.summary
        return f"{head}: {self.detail.strip()}" if self.detail.strip() else head


@dataclass(frozen=True)
class PlanOutcome:
    """What ``plan`` produced: the saved plan file and whether it changes anything."""

    planfile: Path
    has_changes: bool
    destroy: bool
    exit_code: int
    changes: Mapping[str, int] = field(default_factory=dict)  # add/change/remove/import
    warnings: tuple[Diagnostic, ...] = ()


_TRANSIENT_PATTERNS = [
    r"connection refused",
    r"connection reset",
    r"broken pipe",
    r"no such host",
    r"network is unreachable",
    r"no route to host",
    r"temporary failure in name resolution",
    r"server misbehaving",
    r"i/o timeout",
    r"timed out",
    r"timeout while waiting",
    r"timeout exceeded",
    r"client\.timeout",
    r"deadline exceeded",
    r"tls handshake timeout",
    r"unexpected eof",
    r"request send failed",
    r"throttl",
    r"rate exceeded",
    r"too many requests",
    r"requestlimitexceeded",
    r"slow ?down",
    r"priorrequestnotcomplete",
    r"service ?unavailable",
    r"\binternalerror\b",
    r"internal server error",
    r"internalfailure",
    r"statuscode: (429|5\d\d)\b",
    r"state lock",  # "Error acquiring the state lock", "Error releasing the state lock"
    r"error locking state",
]
_TRANSIENT_RE = re.compile("|".join(f"(?:{p})" for p in _TRANSIENT_PATTERNS), re.IGNORECASE)
_STALE_RE = re.compile(r"saved plan is stale", re.IGNORECASE)


def classify(
    diagnostics: Sequence[Diagnostic], text: str = "", signaled: bool = False
) -> ErrorKind:
    """Transient only when every error is (a retry of the same command may succeed).

    ``text`` is non-JSON output (stderr), used when there are no error diagnostics;
    ``signaled`` means terraform was killed by a signal (OOM killer, an operator).
    """
    errors = [d for d in diagnostics if d.severity == "error"]
    blobs = [f"{d.summary}\n{d.detail}" for d in errors] or [text]
    if any(_STALE_RE.search(blob) for blob in blobs):
        return "stale_plan"
    if signaled and not errors:
        return "transient"
    if all(_TRANSIENT_RE.search(blob) for blob in blobs):
        return "transient"
    return "configuration"


class TerraformError(RuntimeError):
    """A terraform command failed; ``str()`` has the diagnostics, ``transient`` says if
    retrying the job may help."""

    def __init__(
        self,
        command: str,
        exit_code: int | None,
        message: str,
        *,
        diagnostics: Sequence[Diagnostic] = (),
        kind: ErrorKind = "configuration",
    ) -> None:
        super().__init__(message)
        self.command = command
        self.exit_code = exit_code
        self.message = message
        self.diagnostics = tuple(diagnostics)
        self.kind: ErrorKind = kind

    @property
    def transient(self) -> bool:
        return self.kind == "transient"

    @property
    def stale_plan(self) -> bool:
        return self.kind == "stale_plan"


class TerraformTimeout(TerraformError):
    """The command ran longer than the runner's timeout and was stopped (transient)."""

    def __init__(self, command: str, exit_code: int | None, message: str, **kwargs: Any) -> None:
        kwargs["kind"] = "transient"
        super().__init__(command, exit_code, message, **kwargs)


class TerraformAborted(RuntimeError):
    """The runner's ``abort`` check asked to stop (e.g. the workspace lock was lost):
    terraform was not started, or was stopped gracefully (state saved)."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"terraform {command} stopped: {reason}")
        self.command = command
        self.reason = reason


AbortCheck = Callable[[bool], str | None]


# --- live process groups: nothing may outlive the job ------------------------------------

_live: dict[int, subprocess.Popen[bytes]] = {}
_live_lock = threading.RLock()  # re-entrant: terminate_running() may run in a signal handler


def running_groups() -> list[int]:
    """Process group ids of the terraform commands running in this process."""
    with _live_lock:
        return list(_live)


def _signal_group(pgid: int, sig: int) -> bool:
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
        _signal_group(pgid, signal.SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_leader_running(pgid) for pgid in groups):
        time.sleep(0.05)
    if any(_leader_running(pgid) for pgid in groups):
        for pgid in groups:
            _signal_group(pgid, signal.SIGTERM)
        time.sleep(min(0.5, grace))
    for pgid in groups:
        _signal_group(pgid, signal.SIGKILL)  # also stragglers of groups whose leader left


def _leader_running(pgid: int) -> bool:
    with _live_lock:
        proc = _live.get(pgid)
    return proc is not None and proc.poll() is None


atexit.register(terminate_running)


def backend_state_location(workdir: Path) -> str | None:
    """Where the backend ``terraform init`` last set up in ``workdir`` keeps the state
    (``s3://bucket/key``, ``local:path``); None when the folder was never initialised."""
    try:
        cached = json.loads((workdir / ".terraform" / "terraform.tfstate").read_text())
    except (OSError, ValueError):
        return None
    backend = cached.get("backend") or {}
    config = backend.get("config") or {}
    if backend.get("type") == "s3":
        return f"s3://{config.get('bucket')}/{config.get('key')}"
    if backend.get("type") == "local":
        return f"local:{config.get('path') or 'terraform.tfstate'}"
    return f"{backend.get('type')}:" if backend else None


# --- the runner ----------------------------------------------------------------------------


@dataclass
class _Output:
    """What one command printed: parsed events, stdout capture, non-JSON text."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    stdout: bytearray = field(default_factory=bytearray)
    text: list[str] = field(default_factory=list)


StdoutMode = Literal["events", "capture", "text"]


class TerraformRunner:
    """Runs terraform commands in one working directory (a rendered root module)."""

    def __init__(
        self,
        workdir: Path | str,
        *,
        binary: str = "terraform",
        plugin_dir: str | None = None,
        timeout: float = 900.0,
        env: Mapping[str, str] | None = None,
        log: LogFn = lambda line: None,
        grace: float = DEFAULT_GRACE_SECONDS,
        lock_timeout: float = 0.0,
        parent_death_signal: bool = True,
        abort: AbortCheck | None = None,
    ) -> None:
        """``abort(thorough)`` returns a reason to stop, or None: asked with
        ``thorough=True`` before each command and with False every tick while one runs."""
        self.workdir = Path(workdir)
        self.abort = abort
        self.parent_death_signal = parent_death_signal
        self.binary = binary
        self.plugin_dir = plugin_dir
        self.timeout = timeout
        self.extra_env = dict(env or {})
        self.log = log
        self.grace = grace
        self.lock_timeout = lock_timeout

    # -- commands ----------------------------------------------------------------------------

    def init(self, state_location: str | None = None) -> None:
        """Install providers (only from ``plugin_dir`` when given) and modules.

        ``state_location``: where the configuration keeps the state now (e.g.
        ``s3://bucket/key``). A folder initialised before is re-initialised with the
        current backend settings (``-reconfigure``: an endpoint that moved, e.g. moto on
        a new port, where a plain init fails with "Backend configuration changed") while
        the state stays where it was; a state that moved is refused, not migrated."""
        args = ["init", "-json", "-input=false"]
        if self.plugin_dir:
            args.append(f"-plugin-dir={self.plugin_dir}")
        cached = backend_state_location(self.workdir)
        if state_location and cached is not None:
            if cached != state_location:
                raise TerraformError(
                    "init",
                    None,
                    f"the workspace {self.workdir} was initialised with its state at "
                    f"{cached}, and the settings now put it at {state_location}: "
                    "terraform does not move state by itself. Copy the state object "
                    "there, delete this folder (only a cache) and run again.",
                )
            args.append("-reconfigure")
        self._run(args)

    def plan(self, out: str = "plan.tfplan", destroy: bool = False) -> PlanOutcome:
        """Plan into the saved plan file ``out`` (relative to the workdir)."""
        args = ["plan", "-json", "-input=false", "-detailed-exitcode", f"-out={out}"]
        args += self._lock_args()
        if destroy:
            args.append("-destroy")
        output, code = self._run(args, ok_codes=(0, 2))
        summary = next((e for e in output.events if e.get("type") == "change_summary"), {})
        return PlanOutcome(
            planfile=self.workdir / out,
            has_changes=code == 2,
            destroy=destroy,
            exit_code=code,
            changes={k: v for k, v in (summary.get("changes") or {}).items() if isinstance(v, int)},
            warnings=tuple(d for d in output.diagnostics if d.severity == "warning"),
        )

    def show_json(self, planfile: str | Path) -> dict[str, Any]:
        """The machine-readable plan (``terraform show -json planfile``)."""
        output, _ = self._run(["show", "-json", "-no-color", str(planfile)], stdout="capture")
        return self._parse_document(output, "show")

    def apply(self, planfile: str | Path) -> None:
        """Apply exactly the saved plan (no variables, no approval prompt with a plan)."""
        self._run(["apply", "-json", "-input=false", *self._lock_args(), str(planfile)])

    def output_json(self) -> dict[str, Any]:
        """Root module outputs: ``{name: {"value", "type", "sensitive"}}``; never logged."""
        output, _ = self._run(["output", "-json", "-no-color"], stdout="capture")
        return self._parse_document(output, "output")

    def state_list(self) -> list[str]:
        """Addresses in the state; empty when there is no state yet."""
        output, code = self._run(["state", "list", "-no-color"], stdout="text", ok_codes=(0, 1))
        if code == 1:
            if any("No state file was found" in line for line in output.text):
                return []
            raise self._error("state", code, output)
        return [line.strip() for line in output.stdout.decode().splitlines() if line.strip()]

    # -- plumbing ----------------------------------------------------------------------------

    def _argv(self, command: str, args: Sequence[str], env: Mapping[str, str]) -> list[str]:
        """The command line; on Linux under the guard (``tf_guard.py``), so terraform and
        its provider plugins die with this process even when it is SIGKILLed (RQ kills a
        work horse that way, an operator or the OOM killer a worker), which no
        ``finally`` can handle."""
        binary = shutil.which(self.binary, path=env.get("PATH"))
        if binary is None:
            raise TerraformError(command, None, f"terraform binary {self.binary!r} not found")
        if not self.parent_death_signal or not sys.platform.startswith("linux"):
            return [binary, *args]
        return [sys.executable, "-I", "-S", str(GUARD), str(os.getpid()), binary, *args]

    def _lock_args(self) -> list[str]:
        return [f"-lock-timeout={int(self.lock_timeout)}s"] if self.lock_timeout > 0 else []

    def command_env(self) -> dict[str, str]:
        """The environment terraform runs with (inherited minus TF_*, plus ours)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
        env.update(AUTOMATION_ENV)
        env.update(self.extra_env)
        return env

    def _parse_document(self, output: _Output, command: str) -> dict[str, Any]:
        try:
            return json.loads(bytes(output.stdout) or b"{}")
        except json.JSONDecodeError as error:
            raise TerraformError(
                command, 0, f"terraform {command}: invalid JSON: {error}"
            ) from error

    def _run(
        self,
        args: Sequence[str],
        *,
        stdout: StdoutMode = "events",
        ok_codes: Iterable[int] = (0,),
    ) -> tuple[_Output, int]:
        """Run one command to its end; raise TerraformError unless its exit code is ok."""
        command = args[0] if args[0] != "state" else " ".join(args[:2])
        reason = self.abort(True) if self.abort is not None else None
        if reason is not None:
            self.log(f"not running terraform {command}: {reason}")
            raise TerraformAborted(command, reason)
        self.log(f"$ terraform {' '.join(args)}")
        output = _Output()
        env = self.command_env()
        proc = subprocess.Popen(
            self._argv(command, args, env),
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        running: _Command | None = None
        aborted: str | None = None
        try:
            running = _Command(proc, output, stdout, self.log, self.abort)
            timed_out = not running.pump(time.monotonic() + self.timeout)
            aborted = running.aborted
            if aborted is not None:
                self.log(f"terraform {command}: {aborted}, stopping it")
                running.stop(self.grace)
            elif timed_out:
                self.log(f"terraform {command}: timed out after {self.timeout:g}s, stopping it")
                running.stop(self.grace)
        finally:
            if running is not None:
                running.cleanup(self.grace)
            else:  # interrupted before it was set up: no graceful stop possible
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        code = proc.returncode
        if aborted is not None:
            raise TerraformAborted(command, aborted)
        if timed_out:
            message = f"terraform {command} timed out after {self.timeout:g}s"
            raise TerraformTimeout(
                command, code, _with_details(message, output), diagnostics=output.diagnostics
            )
        if code not in tuple(ok_codes):
            raise self._error(command, code, output)
        return output, code

    def _error(self, command: str, code: int, output: _Output) -> TerraformError:
        kind = classify(output.diagnostics, "\n".join(output.text), signaled=code < 0)
        message = _with_details(f"terraform {command} failed (exit code {code})", output)
        return TerraformError(command, code, message, diagnostics=output.diagnostics, kind=kind)


class _Command:
    """One running terraform process: reads its output as it comes, and stops it."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        output: _Output,
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
            _signal_group(self.proc.pid, sig)
            if self.pump(time.monotonic() + wait, abortable=False):
                return
        _signal_group(self.proc.pid, signal.SIGKILL)

    def cleanup(self, grace: float) -> None:
        """Leave nothing behind, also when unwinding from an exception of the caller
        (then the log callback may be what failed: its errors are ignored here)."""
        try:
            if self.proc.poll() is None:
                self.quiet = True
                self._log("[warn] interrupted while terraform runs: stopping it")
                self.stop(grace)
        finally:
            _signal_group(self.proc.pid, signal.SIGKILL)  # stragglers (providers) of the group
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
            lines, self.partial[fd] = _split_lines(self.partial[fd] + chunk)
        for line in lines:
            self._handle_line(line, from_stdout=self.is_stdout[fd])

    def _handle_line(self, raw: bytes, *, from_stdout: bool) -> None:
        line = _clean(raw.decode("utf-8", errors="replace"))
        if not line:
            return
        if from_stdout and self.mode == "text":
            self.output.stdout += raw + b"\n"
            self._log(line)
            return
        event = _parse_event(line)
        if event is None:
            self.output.text.append(line)
            self._log(line)
            return
        self.output.events.append(event)
        if event.get("type") == "diagnostic":
            self.output.diagnostics.append(Diagnostic.from_event(event))
        self._log(format_event(event))

    def _log(self, line: str) -> None:
        if not self.quiet:
            self.log(line)
            return
        with contextlib.suppress(Exception):
            self.log(line)


# --- output formatting ----------------------------------------------------------------------


def _split_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines, and the unfinished rest."""
    *lines, rest = data.split(b"\n")
    return lines, rest


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BOX_RE = re.compile(r"^[\s\u2577\u2502\u2575]+")  # the frame of human-readable diagnostics


def _clean(line: str) -> str:
    """A line without colour codes and diagnostic frame ("╷", "│ ", "╵")."""
    return _BOX_RE.sub("", _ANSI_RE.sub("", line)).rstrip()


def _parse_event(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and "@message" in event else None


def format_event(event: Mapping[str, Any]) -> str:
    """A ``-json`` event as one human-readable log entry: ``[level] message``."""
    level = str(event.get("@level") or "info")
    if event.get("type") == "diagnostic":
        message = Diagnostic.from_event(event).text()
        prefix = "Error: " if level == "error" else "Warning: " if level == "warn" else ""
        return f"[{level}] {prefix}{message}"
    return f"[{level}] {str(event.get('@message') or '').strip()}"


def _with_details(head: str, output: _Output) -> str:
    """The message of an error: the error diagnostics, else the last lines of stderr."""
    errors = [d.text() for d in output.diagnostics if d.severity == "error"]
    details = errors or [line for line in output.text if line.strip()][-10:]
    return head + (": " + "; ".join(details) if details else "")
