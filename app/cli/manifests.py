"""``flask apply``, ``flask get`` and ``flask delete``: manifests from files, a
directory or stdin (``app.manifests``). The operator at the server's shell may touch
every account, like a platform admin."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from app.cli.common import service_errors
from app.errors import InvalidInput
from app.manifests import engine, loader
from app.services import accounts

SUFFIXES = (".yaml", ".yml", ".json")


def _read(source: str) -> list[Any]:
    """The documents of a file or of stdin (``-``), at most loader.MAX_BYTES, checked
    before it is read whole."""
    if source == "-":
        data = sys.stdin.buffer.read(loader.MAX_BYTES + 1)
        return loader.parse(data, "stdin")
    path = Path(source)
    if not path.is_file():
        raise InvalidInput(f"no such file or directory: {source}")
    loader.check_size(path.stat().st_size, source)
    return loader.parse(path.read_bytes(), source, is_json=path.suffix == ".json")


def _documents(sources: tuple[str, ...]) -> tuple[list[Any], list[str]]:
    """The documents of every source, and how to name each in a problem: ``doc N`` for
    one file, ``FILE doc N`` for several (a directory, or several -f)."""
    read = [(name, docs) for source in sources for name, docs in _files(source)]
    documents = [doc for _, docs in read for doc in docs]
    if not documents:
        raise InvalidInput("no manifest documents found")
    several = len(read) > 1
    places = [
        f"{name} doc {i}" if several else f"doc {i}"
        for name, docs in read
        for i in range(1, len(docs) + 1)
    ]
    return documents, places


def _files(source: str) -> list[tuple[str, list[Any]]]:
    path = Path(source)
    if source != "-" and path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        return [(str(file), _read(str(file))) for file in files]
    return [(source, _read(source))]


@click.command("apply")
@click.option(
    "-f", "--filename", "sources", multiple=True, required=True, help="A file, a directory or -."
)
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@service_errors
def apply(sources: tuple[str, ...], dry_run: bool) -> None:
    """Create or update what the manifests declare, all or nothing."""
    documents, places = _documents(sources)
    results, notes = engine.apply(documents, None, dry_run=dry_run, places=places)
    for line in [*map(str, results), *notes]:
        click.echo(line)


@click.command("get")
@click.argument("kind")
@click.argument("name", required=False)
@click.option("--account", "account_number", required=True, help="Account number.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml")
@service_errors
def get(kind: str, name: str | None, account_number: str, output: str) -> None:
    """Print manifests of an account's objects; they apply back unchanged (secrets only
    as set/unset, in ``status``)."""
    found = engine.manifests(engine.resolve_kind(kind), accounts.get_account(account_number), name)
    if output == "json":
        click.echo(json.dumps(found[0] if name else found, indent=2))
    else:
        click.echo(yaml.safe_dump_all(found, sort_keys=False, allow_unicode=True), nl=False)


@click.command("delete")
@click.argument("kind", required=False)
@click.argument("name", required=False)
@click.option("-f", "--filename", "sources", multiple=True, help="Delete what these declare.")
@click.option("--account", "account_number", help="Account number (with KIND NAME).")
@service_errors
def delete(
    kind: str | None, name: str | None, sources: tuple[str, ...], account_number: str | None
) -> None:
    """Delete ``KIND NAME --account A`` or what ``-f FILE`` declares (a client's
    infrastructure is destroyed by a run)."""
    if sources:
        if kind or name:
            raise InvalidInput("give either -f FILE or KIND NAME --account A")
        documents, places = _documents(sources)
        lines = engine.delete(documents, None, places)
    else:
        if not (kind and name and account_number):
            raise InvalidInput("give KIND NAME --account A, or -f FILE")
        account = accounts.get_account(account_number)
        lines = [engine.delete_one(engine.resolve_kind(kind), account, name, None)]
    for line in lines:
        click.echo(line)
