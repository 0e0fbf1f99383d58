"""What went wrong with a manifest, worded as ``doc 3 (Plugin/x): spec.api.connection:
no connection 'shop-apii'; did you mean 'shop-api'?`` (the document, the field path)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from app.errors import Forbidden, InvalidInput


@dataclass(frozen=True)
class Problem:
    doc: str  # "doc 3 (Client/shop)"
    path: str  # "spec.model", "" for the whole document
    message: str
    forbidden: bool = False

    def __str__(self) -> str:
        return (
            f"{self.doc}: {self.path}: {self.message}"
            if self.path
            else f"{self.doc}: {self.message}"
        )


class FieldProblem(Exception):
    """Raised by a kind's checks: ``path`` below ``spec``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the nearest choice, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def raise_problems(problems: list[Problem]) -> None:
    """One 403 when any document reaches an account the caller may not touch, else one
    400 naming every problem (one per line); nothing is changed either way."""
    if not problems:
        return
    denied = [p for p in problems if p.forbidden]
    shown = denied or problems
    details = [{"doc": p.doc, "path": p.path, "msg": p.message} for p in shown]
    text = "\n".join(str(p) for p in shown)
    if denied:
        raise Forbidden(text, code="forbidden", details=details)
    raise InvalidInput(text, code="invalid_manifest", details=details)
