"""The guard of one terraform command: terraform and its provider plugins die with the
worker that started them, even when the worker is SIGKILLed (no ``finally`` runs then).

Run as a script, with the standard library only (``python -I -S guard.py PARENT_PID
terraform ARGS...``): the runner starts it as the leader of a new process group, and
terraform and the providers it starts stay in that group. The guard

- asks the kernel for a signal when its parent (the worker) dies
  (``PR_SET_PDEATHSIG``), and then SIGKILLs its whole group: terraform, and the
  providers, which are terraform's children and which no parent-death signal of
  terraform's own would reach. Not SIGINT first: terraform's output pipes died with the
  worker, and terraform dies of SIGPIPE on its next line anyway, without stopping its
  providers. The state lock file it leaves is removed by the next holder of the
  workspace lock (``runs.clear_stale_state_lock``);
- is a child subreaper (``PR_SET_CHILD_SUBREAPER``): a provider whose terraform died
  first is re-parented to the guard, still in the group, not to PID 1;
- ignores SIGINT and SIGTERM: the runner signals the whole group, terraform stops
  gracefully, and the guard exits with terraform's status (its signal included) once
  terraform has exited.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PARENT_DIED = signal.SIGUSR1


def _kill_group(signum: int = 0, frame: FrameType | None = None) -> None:
    """The worker is gone: nothing of this command may stay (the guard included)."""
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def main(argv: list[str]) -> int:
    parent, command = int(argv[1]), argv[2:]
    signal.signal(PARENT_DIED, _kill_group)
    _prctl(PR_SET_PDEATHSIG, PARENT_DIED)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != parent:  # the worker died before the kernel watched it for us
        _kill_group()
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)
    child = os.posix_spawn(
        command[0],
        command,
        os.environ,
        setsigdef=(signal.SIGINT, signal.SIGTERM, PARENT_DIED),
    )
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):  # the runner tells "killed by a signal" from the exit code
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
