"""docs/cli.md, generated from the real ``flask`` command tree of ``create_app()``.

Run ``python -m devtools.cli_docs`` after changing a command; tests/test_docs.py regenerates
the page and fails when the file differs, so the reference cannot drift from the code.
Nothing in the application imports this module: it only reads the command tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

REGENERATE = "python -m devtools.cli_docs"
CLI_DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
# A fixed width, so the page does not depend on the terminal it is generated in.
WIDTH = 100

HEADER = f"""# CLI reference

Every `flask` command of chatdock (`export FLASK_APP=wsgi.py`, then `.venv/bin/flask ...`),
with its `--help`. Generated from the code by `{REGENERATE}`: do not edit by hand;
`tests/test_docs.py` fails when this page differs from the commands. What each command is
for, in a table: [operations.md](operations.md#operator-commands).
"""


def _help(command: click.Command, path: list[str], parent: click.Context) -> str:
    """The command's ``--help`` exactly as the terminal shows it, at WIDTH columns."""
    ctx = click.Context(
        command, info_name=path[-1], parent=parent, terminal_width=WIDTH, max_content_width=WIDTH
    )
    return command.get_help(ctx).rstrip()


def _anchor(title: str) -> str:
    """GitHub's heading anchor for the titles used here (words and hyphens only)."""
    return title.lower().replace(" ", "-")


def _section(level: int, command: click.Command, path: list[str], parent: click.Context) -> str:
    title = " ".join(path)
    return f"{'#' * level} {title}\n\n```text\n{_help(command, path, parent)}\n```\n"


def render(cli: click.Group) -> str:
    """The whole page for the command tree under ``cli`` (the app's ``app.cli``)."""
    root = click.Context(click.Group("flask"), info_name="flask")
    index: list[str] = []
    sections: list[str] = []
    for name in sorted(cli.commands):
        command = cli.commands[name]
        if command.hidden:
            continue
        path = ["flask", name]
        summary = command.get_short_help_str(limit=WIDTH)
        index.append(f"- [`{' '.join(path)}`](#{_anchor(' '.join(path))}): {summary}")
        sections.append(_section(2, command, path, root))
        if isinstance(command, click.Group):
            group_ctx = click.Context(command, info_name=name, parent=root)
            for sub_name in sorted(command.commands):
                sub = command.commands[sub_name]
                if not sub.hidden:
                    sections.append(_section(3, sub, [*path, sub_name], group_ctx))
    return "\n".join([HEADER, *index, "", *sections])


def main() -> None:
    from app import create_app

    CLI_DOC.write_text(render(create_app().cli))
    print(f"wrote {CLI_DOC}", file=sys.stderr)


if __name__ == "__main__":
    main()
