"""A page's filters as a SQL `where` clause: fixed fragments in the SQL, every value bound in `params`.

A filter left open (None or an empty string) adds nothing, so a page passes its widgets' values as they are.
A time range is half-open, `since <= column < until`, so consecutive ranges never count a row twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Where:
    """The conditions of one `where` clause, joined by `and`, and the values they bind, in order."""

    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def condition(self, sql: str, *values: Any) -> Where:
        """Add `sql`, a fixed fragment with one `?` per value, and its values."""
        self.conditions.append(sql)
        self.params.extend(values)
        return self

    def equals(self, column: str, value: Any) -> Where:
        """`column = value`, unless the filter leaves it open. `column` may be any fixed SQL expression."""
        if _is_open(value):
            return self
        return self.condition(f"{column} = ?", value)

    def time_range(self, column: str, since: str | None, until: str | None) -> Where:
        """`since <= column < until`, each end only when given (ISO-8601 text compares in time order)."""
        if not _is_open(since):
            self.condition(f"{column} >= ?", since)
        if not _is_open(until):
            self.condition(f"{column} < ?", until)
        return self

    def extend(self, other: Where) -> Where:
        """Add another builder's conditions and values after this one's."""
        self.conditions.extend(other.conditions)
        self.params.extend(other.params)
        return self

    @property
    def joined(self) -> str:
        """The conditions joined by `and`, for a query that adds its own `where`."""
        return " and ".join(self.conditions)

    @property
    def sql(self) -> str:
        """` where ...` with a leading space, or nothing when no condition applies."""
        return f" where {self.joined}" if self.conditions else ""


def _is_open(value: Any) -> bool:
    return value is None or value == ""
