"""The documentation stays true: every setting and command is documented, docs/cli.md is
what the code generates, every relative link and anchor resolves, and docs/design.md's
Layout matches the tree."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.config import Settings
from devtools import cli_docs

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)


@pytest.fixture(scope="module")
def cli_app() -> Flask:
    """The real command tree; no database is touched to build or read it."""
    return create_app(Settings(_env_file=None, DATABASE_URL="sqlite://", LOG_LEVEL="WARNING"))


def _prose(text: str) -> str:
    """The text without fenced code blocks (a `# comment` in a shell block is no heading)."""
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for match in HEADING.finditer(_prose(page.read_text())):
        slug = _slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _links(page: Path) -> Iterator[str]:
    for target in LINK.findall(INLINE_CODE.sub("", _prose(page.read_text()))):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            yield target


def test_slugs_follow_github() -> None:
    assert _slug("How `messages` and `prompt_history` are merged") == (
        "how-messages-and-prompt_history-are-merged"
    )
    assert _slug("Scale-out: PostgreSQL, Redis and S3") == "scale-out-postgresql-redis-and-s3"
    assert _slug("A model's life") == "a-models-life"


def test_every_relative_link_resolves() -> None:
    broken = []
    checked = 0
    for page in PAGES:
        for target in _links(page):
            checked += 1
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert checked > 50, "the link pattern found (almost) no links"
    assert broken == []


def test_the_readme_links_every_docs_page() -> None:
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in _links(README)}
    assert [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked] == []


def test_the_two_commands_stay_in_the_readme() -> None:
    readme = README.read_text()
    for command in ("scripts/run", "scripts/test"):
        assert f"```sh\n{command}\n```" in readme, command
        assert (ROOT / command).stat().st_mode & 0o111, f"{command} is not executable"
    assert "exec bash scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_every_setting_is_documented() -> None:
    settings_page = (DOCS / "settings.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in settings_page]
    assert missing == []


def test_every_cli_command_is_described(cli_app: Flask) -> None:
    """The operator commands' table says what each command is for (cli.md has the options)."""
    operations = (DOCS / "operations.md").read_text()
    for name, group in cli_app.cli.commands.items():
        if name in ("db", "run", "shell", "routes"):
            continue
        for command in getattr(group, "commands", {}):
            assert f"flask {name} {command}" in operations, f"flask {name} {command}"


def test_the_cli_reference_is_generated_from_the_code(cli_app: Flask) -> None:
    expected = cli_docs.render(cli_app.cli)
    assert cli_docs.CLI_DOC.read_text() == expected, (
        f"docs/cli.md differs from the commands: run `{cli_docs.REGENERATE}` and commit it"
    )


def test_the_cli_reference_has_every_command(cli_app: Flask) -> None:
    reference = cli_docs.CLI_DOC.read_text()
    for name, group in cli_app.cli.commands.items():
        assert f"\n## flask {name}\n" in reference, name
        for command in getattr(group, "commands", {}):
            assert f"\n### flask {name} {command}\n" in reference, f"{name} {command}"


def _layout_paths() -> list[str]:
    """The paths docs/design.md's Layout block lists (nesting by indentation)."""
    design = (DOCS / "design.md").read_text()
    block = design.split("## Layout", 1)[1].split("```", 2)[1]
    lines = [line for line in block.splitlines()[1:] if line.strip()]
    column = re.search(r"\S\s{2,}(\S)", lines[0])
    assert column, "the Layout's first line has no description column"
    description_at = column.start(1)
    paths: list[str] = []
    parents: list[tuple[int, str]] = []  # (indent, folder) of the enclosing folders
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if indent >= description_at:
            continue  # a description's continuation
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        while parents and parents[-1][0] >= indent:
            parents.pop()
        prefix = parents[-1][1] if parents else ""
        for name in names.split(", "):
            paths.append(prefix + name)
            if name.endswith("/"):
                parents.append((indent, prefix + name))
    return paths


def test_layout_lists_only_paths_that_exist() -> None:
    paths = _layout_paths()
    assert "app/config.py" in paths and "jobs/" in paths
    assert [p for p in paths if not (ROOT / p).exists()] == []


def test_layout_lists_every_part_of_app() -> None:
    listed = set(_layout_paths())
    parts = [
        f"app/{entry.name}/" if entry.is_dir() else f"app/{entry.name}"
        for entry in sorted((ROOT / "app").iterdir())
        if not entry.name.startswith((".", "__pycache__"))
    ]
    assert [p for p in parts if p not in listed] == []


# A package whose modules import it back needs a deferred import (the package imports
# them once it has defined what they use): design.md says there is none.
PACKAGES_WITH_A_CYCLE_LEFT = {"app.blueprints.admin"}  # being removed (issue 28)


def test_no_import_is_made_lazy_to_hide_a_cycle() -> None:
    import grimp

    assert "no import is made lazy to hide a cycle" in (DOCS / "design.md").read_text()
    graph = grimp.build_graph("app", "jobs", cache_dir=None)
    packages = sorted(m for m in graph.modules if graph.find_children(m))
    cycles = {
        package: sorted(
            module
            for module in graph.find_descendants(package)
            if graph.find_shortest_chain(importer=module, imported=package)
        )
        for package in packages
        if package not in PACKAGES_WITH_A_CYCLE_LEFT
    }
    assert {package: modules for package, modules in cycles.items() if modules} == {}


# --- claims of the docs, read beside the code -------------------------------------------


def _section(page: str, heading: str) -> str:
    text = (DOCS / page).read_text()
    return text.split(heading, 1)[1].split("\n#", 1)[0]


# Each blueprint exempt from CSRF tokens, and how chat-api.md names it beside its reason.
CSRF_EXEMPT = {"chat": "the chat API", "management": "`/api/v1`", "rq_dashboard": "`/admin/rq`"}


def test_every_csrf_exemption_is_documented_with_its_reason() -> None:
    from app.extensions import csrf

    create_app(Settings(_env_file=None, DATABASE_URL="sqlite://", REDIS_URL="redis://127.0.0.1:1"))
    exempt = {blueprint.name for blueprint in csrf._exempt_blueprints} | set(csrf._exempt_views)
    assert exempt == set(CSRF_EXEMPT)
    section = _section("chat-api.md", "## Hosts, CORS and CSRF")
    assert "Every unsafe request needs a CSRF token (Flask-WTF) but these" in section
    assert [name for name in CSRF_EXEMPT.values() if name not in section] == []


def test_what_the_image_installs_is_what_the_dockerfile_runs() -> None:
    installs = re.findall(
        r"pip install (?:--\S+ )*(-e )?\.\s*$", (ROOT / "Dockerfile").read_text(), re.M
    )
    assert installs == ["-e "]
    section = (DOCS / "operations.md").read_text().split("**What the image installs**", 1)[1]
    assert section.lstrip(": ").startswith("`pip install -e .`")


# Jobs that are no infrastructure job (no run, no signals), as infrastructure.md names them.
NO_INFRASTRUCTURE_JOB = {"budget_warning": "jobs/notices.py"}


def test_every_job_sends_its_post_signal_on_every_path() -> None:
    """infrastructure.md's claim: the jobs run inside jobs.common.job_context, whose
    post_ signal is sent in a ``finally`` (tests/infra/test_job_signals.py runs them)."""
    import ast
    import importlib

    from app.queue import JOBS

    claim = (
        "every infrastructure job sends `pre_<job>` before its work and\n"
        "  `post_<job>` after it, on every path"
    )
    text = (DOCS / "infrastructure.md").read_text()
    assert claim in text
    assert all(f"`{path}`" in text for path in NO_INFRASTRUCTURE_JOB.values())
    common = ast.parse((ROOT / "jobs" / "common.py").read_text())
    in_finally = [
        node
        for tried in ast.walk(common)
        if isinstance(tried, ast.Try)
        for statement in tried.finalbody
        for node in ast.walk(statement)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "signals.post(job_name).send"
    ]
    assert len(in_finally) == 1
    without = []
    for handle, dotted in JOBS.items():
        if handle in NO_INFRASTRUCTURE_JOB:
            continue
        module, name = dotted.rsplit(".", 1)
        source = ast.unparse(
            next(
                node
                for node in ast.parse(
                    Path(importlib.import_module(module).__file__ or "").read_text()
                ).body
                if isinstance(node, ast.FunctionDef) and node.name == name
            )
        )
        if f"job_context('{name}'" not in source and f"signals.post_{name}.send" not in source:
            without.append(dotted)
    assert without == []
