"""Paged lists counted in the database: the page arithmetic every list uses (nominees, the
consent register, audit events, withdrawals), and a page of rows with its filters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Row = TypeVar("Row")


def page_count(total: int, size: int) -> int:
    return max(math.ceil(total / size), 1)


def page_to_show(requested: int, total: int, size: int) -> int:
    """The page asked for, within 1..the last page (past the end: the last page)."""
    return min(max(requested, 1), page_count(total, size))


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    total: int
    filters: Any  # the list's filters, with the page actually shown (``filters.page``)
    size: int = 50

    @property
    def pages(self) -> int:
        return page_count(self.total, self.size)

    @property
    def first(self) -> int:
        return (self.filters.page - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0
