"""prune-check: an entry may leave DELETED_MODELS once processed (ledger) and in git
history for long enough; real git, in a repository made here with back-dated commits."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.data_migrations import Batch, ledger
from app.extensions import db
from app.llm.catalog import DeletedModel
from app.services.model_prune import prune_check
from app.services.model_retirement import NAME
from tests.catalog_support import invoke

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OLD = DeletedModel("openai", "gpt-4-turbo", "gpt-4.1")
UNPROCESSED = DeletedModel("anthropic", "claude-2.0")
RECENT = DeletedModel("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-6")
UNCOMMITTED = DeletedModel("openai", "gpt-3.5", "gpt-4o")


def line(entry: DeletedModel) -> str:
    values = [entry.provider, entry.name] + ([entry.replacement] if entry.replacement else [])
    return "    (" + ", ".join(f'"{v}"' for v in values) + "),\n"


def commit(repo: Path, entries: list[DeletedModel], when: datetime, message: str) -> None:
    (repo / "catalog.py").write_text("DELETED_MODELS = [\n" + "".join(map(line, entries)) + "]\n")
    stamp = when.isoformat()
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.test"]
    subprocess.run([*git, "add", "catalog.py"], check=True, env=env)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True, env=env)


def processed(*entries: DeletedModel) -> ledger.LedgerEntry:
    batch = Batch.of(entry.as_list() for entry in entries)
    return ledger.LedgerEntry(
        NAME, NOW - timedelta(days=1), batch.hash, {"batch": list(batch.items)}
    )


def test_only_processed_entries_older_than_the_limit_are_safe(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    commit(repo, [OLD, UNPROCESSED], NOW - timedelta(days=45), "delete gpt-4-turbo, claude-2.0")
    commit(repo, [OLD, UNPROCESSED, RECENT], NOW - timedelta(days=3), "delete sonnet 4")
    (repo / "catalog.py").write_text(  # reformatted, plus an entry not committed yet
        "DELETED_MODELS = [\n" + "".join(map(line, [OLD, UNPROCESSED, RECENT, UNCOMMITTED])) + "]\n"
    )
    entries = (OLD, UNPROCESSED, RECENT, UNCOMMITTED)
    verdicts = prune_check(
        entries, processed(OLD, RECENT), repo / "catalog.py", NOW, timedelta(days=30)
    )
    by_entry = {v.entry: v for v in verdicts}
    assert [v.entry for v in verdicts if v.safe] == [OLD]
    assert by_entry[OLD].line() == (
        "SAFE  openai/gpt-4-turbo -> gpt-4.1: processed here on 2026-05-31 "
        f"(batch {processed(OLD, RECENT).batch_hash[:12]}); in git since 2026-04-17 (45 days)"
    )
    assert (
        "not in the batch remove_deprecated_models processed here" in by_entry[UNPROCESSED].line()
    )
    assert "in git since 2026-05-29 (3 days; needs more than 30)" in by_entry[RECENT].line()
    assert "not committed yet" in by_entry[UNCOMMITTED].line()
    assert by_entry[UNCOMMITTED].line().startswith("KEEP  ")


def test_without_a_ledger_or_git_history_nothing_is_safe(tmp_path: Path):
    (tmp_path / "catalog.py").write_text("DELETED_MODELS = []\n")
    (verdict,) = prune_check((OLD,), None, tmp_path / "catalog.py", NOW, timedelta(days=30))
    assert not verdict.safe
    assert verdict.reasons[0] == "remove_deprecated_models never ran in this database"
    assert verdict.reasons[1].startswith("no git history here")


def test_the_command_checks_this_repositorys_catalog(app):
    invoke(app, "data-migrations", "mark", NAME)
    db.session.commit()
    result = invoke(app, "models", "prune-check", "--days", "0")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [entry.split()[1].rstrip(":") for entry in lines] == [
        "openai/gpt-4-turbo",
        "anthropic/claude-2.0",
        "anthropic/claude-sonnet-4-20250514",
    ]
    assert all("marked processed here" in entry for entry in lines)
