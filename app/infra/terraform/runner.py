"""A small typed runner over the terraform CLI (1.x), reading its ``-json`` output.

Why not python-terraform: it is unmaintained and wrong for Terraform 1.x (``destroy``
passes the removed ``-force``; applying a saved plan adds a ``-var-file``).

Guarantees, because jobs run unattended in RQ workers:

- every command streams its output line by line into ``log`` while it runs (``-json``
  events as ``[level] message``, diagnostics with summary and detail: :mod:`.events`);
- a failure raises :class:`TerraformError` carrying the diagnostics and whether a retry
  may help (:mod:`.errors`);
- terraform runs in its own process group, which is always gone when a method returns
  or raises (:mod:`.process`);
- the environment of terraform is controlled: inherited ``TF_*`` variables (which could
  inject arguments via ``TF_CLI_ARGS`` or another CLI config) are dropped, automation
  variables are set, and the caller's ``env`` is added. Environment values are never
  logged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.infra.terraform.errors import (
    Diagnostic,
    TerraformAborted,
    TerraformError,
    TerraformTimeout,
    classify,
)
from app.infra.terraform.events import Output, StdoutMode
from app.infra.terraform.process import GUARD, AbortCheck, Command, LogFn, signal_group

AUTOMATION_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
# Go's garbage collector target for terraform and its provider plugins, unless the
# worker's environment sets GOGC. Most commands start the AWS provider, which builds its
# whole schema at start-up: at Go's default (100) that start took 3.9 s of CPU, at 400
# 2.5 s for +6% memory (~640 MB) (docs/decisions.md).
GO_GC_PERCENT = "400"
DEFAULT_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class PlanOutcome:
    """What ``plan`` produced: the saved plan file and whether it changes anything."""

    planfile: Path
    has_changes: bool
    destroy: bool
    exit_code: int
    changes: Mapping[str, int] = field(default_factory=dict)  # add/change/remove/import
    warnings: tuple[Diagnostic, ...] = ()


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
        """The command line; on Linux under the guard (``guard.py``), so terraform and
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
        env = {"GOGC": GO_GC_PERCENT}
        env.update((k, v) for k, v in os.environ.items() if not k.startswith("TF_"))
        env.update(AUTOMATION_ENV)
        env.update(self.extra_env)
        return env

    def _parse_document(self, output: Output, command: str) -> dict[str, Any]:
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
    ) -> tuple[Output, int]:
        """Run one command to its end; raise TerraformError unless its exit code is ok."""
        command = args[0] if args[0] != "state" else " ".join(args[:2])
        reason = self.abort(True) if self.abort is not None else None
        if reason is not None:
            self.log(f"not running terraform {command}: {reason}")
            raise TerraformAborted(command, reason)
        self.log(f"$ terraform {' '.join(args)}")
        output = Output()
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
        running: Command | None = None
        aborted: str | None = None
        try:
            running = Command(proc, output, stdout, self.log, self.abort)
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
                signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        code = proc.returncode
        if aborted is not None:
            raise TerraformAborted(command, aborted)
        if timed_out:
            message = f"terraform {command} timed out after {self.timeout:g}s"
            raise TerraformTimeout(
                command, code, output.error_message(message), diagnostics=output.diagnostics
            )
        if code not in tuple(ok_codes):
            raise self._error(command, code, output)
        return output, code

    def _error(self, command: str, code: int, output: Output) -> TerraformError:
        kind = classify(output.diagnostics, "\n".join(output.text), signaled=code < 0)
        message = output.error_message(f"terraform {command} failed (exit code {code})")
        return TerraformError(command, code, message, diagnostics=output.diagnostics, kind=kind)
