"""Finding a poll or an event by what a member typed: its number, or words of its name."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement

from services.errors import InvalidInputError


def parse_reference(raw: str, noun: str) -> int:  # noun with its article: "an event"
    """``12``, ``#12``, or an autocomplete value like ``#12 · Question`` -> 12."""
    match = re.match(r"\s*#?(\d{1,18})\b", raw)
    if match is None:
        raise InvalidInputError(
            f"I couldn't find {noun} called {raw[:50]!r}. Pick one from the list as you type, "
            "or give its number, like `12`."
        )
    return int(match.group(1))


def matching(typed_text: str, id_column: Any, name_column: Any) -> ColumnElement[bool] | None:
    """Rows whose name contains the typed text (``%`` and ``_`` taken literally, ASCII case
    ignored), or whose number it is; None when nothing was typed."""
    typed = typed_text.strip().lstrip("#")
    if not typed:
        return None
    escaped = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    condition: ColumnElement[bool] = name_column.ilike(f"%{escaped}%", escape="\\")
    if typed.isdigit():
        condition = or_(condition, id_column == int(typed))
    return condition
