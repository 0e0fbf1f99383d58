"""The README's promises stay true: every setting and CLI group is documented."""

from pathlib import Path

from app.config import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_documented():
    missing = [name for name in Settings.model_fields if f"`{name}`" not in README]
    assert missing == []


def test_every_cli_group_is_documented(app):
    for name, group in app.cli.commands.items():
        if name in ("db", "run", "shell", "routes"):
            continue
        for command in getattr(group, "commands", {}):
            assert f"flask {name} {command}" in README, f"flask {name} {command}"
