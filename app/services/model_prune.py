"""``flask models prune-check``: which ``DELETED_MODELS`` entries may leave the code.

An entry can go once (1) this database's ledger shows ``remove_deprecated_models``
processed it, and (2) it has been in the repository's git history long enough that every
environment deployed since has run the release migration that processed it. Each entry's
first commit is found with ``git log -G`` on the catalog file. Where git or the history
is missing, the entry says so (and stays).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from app.data_migrations.ledger import LedgerEntry
from app.llm.catalog import DeletedModel

GIT_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Verdict:
    entry: DeletedModel
    safe: bool
    reasons: tuple[str, ...]

    def line(self) -> str:
        replacement = f" -> {self.entry.replacement}" if self.entry.replacement else ""
        status = "SAFE" if self.safe else "KEEP"
        return f"{status}  {self.entry.ref}{replacement}: {'; '.join(self.reasons)}"


def _entry_pattern(entry: DeletedModel) -> str:
    """An extended regex matching the entry's line: ``("openai", "gpt-4-turbo"``."""

    def quoted(text: str) -> str:
        return '"' + re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text) + '"'

    return rf"\(\s*{quoted(entry.provider)},\s*{quoted(entry.name)}"


def _git(folder: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr else "failed")
    return result.stdout.strip()


def first_commits(
    catalog_file: Path, entries: tuple[DeletedModel, ...]
) -> dict[DeletedModel, datetime | str]:
    """Per entry, the committer date of the first commit adding its line, or why unknown."""
    if shutil.which("git") is None:
        return {entry: "git is not installed: cannot tell when it was added" for entry in entries}
    folder = catalog_file.parent
    try:
        shallow = _git(folder, "rev-parse", "--is-shallow-repository") == "true"
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return {entry: f"no git history here ({error})" for entry in entries}
    found: dict[DeletedModel, datetime | str] = {}
    for entry in entries:
        try:
            dates = _git(
                folder, "log", "--reverse", "--format=%cI", "-G", _entry_pattern(entry),
                "--", catalog_file.name,
            ).splitlines()  # fmt: skip
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            found[entry] = f"git log failed ({error})"
            continue
        if dates:
            found[entry] = datetime.fromisoformat(dates[0])
        elif shallow:
            found[entry] = "not in this shallow clone's history: fetch the full history"
        else:
            found[entry] = "not committed yet"
    return found


def _processed(entry: DeletedModel, ledger: LedgerEntry | None) -> tuple[bool, str]:
    if ledger is None:
        return False, "remove_deprecated_models never ran in this database"
    if entry.as_list() not in ledger.items:
        when = ledger.applied_at.strftime("%Y-%m-%d")
        return False, f"not in the batch remove_deprecated_models processed here ({when})"
    how = "marked processed" if ledger.faked else "processed"
    return True, f"{how} here on {ledger.applied_at:%Y-%m-%d} (batch {ledger.batch_hash[:12]})"


def prune_check(
    entries: tuple[DeletedModel, ...],
    ledger: LedgerEntry | None,
    catalog_file: Path,
    now: datetime,
    min_age: timedelta,
) -> list[Verdict]:
    """A verdict per entry: safe to delete from the code, or why not yet."""
    commits = first_commits(catalog_file, entries)
    verdicts = []
    for entry in entries:
        processed, processed_reason = _processed(entry, ledger)
        first = commits[entry]
        if isinstance(first, str):
            old_enough, age_reason = False, first
        else:
            age = now - first
            old_enough = age > min_age
            age_reason = (
                f"in git since {first:%Y-%m-%d} ({age.days} days"
                + ("" if old_enough else f"; needs more than {min_age.days}")
                + ")"
            )
        verdicts.append(Verdict(entry, processed and old_enough, (processed_reason, age_reason)))
    return verdicts
