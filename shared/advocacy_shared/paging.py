"""Keyset pages: a query asks for `limit + 1` rows; the extra row only says that more follow."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Row = TypeVar("Row")
Position = TypeVar("Position")


def keyset_page(
    rows: Sequence[Row], limit: int, position: Callable[[Row], Position]
) -> tuple[Sequence[Row], Position | None]:
    """The rows to show, and the position to continue after (None on the last page)."""
    shown = rows[:limit]
    return shown, position(shown[-1]) if len(rows) > limit else None
