"""The one filter-to-SQL builder: what each filter adds, in order, and what it selects from a real table."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from services.sql_where import Where


@pytest.fixture
def table(tmp_path) -> Database:
    db = Database(tmp_path / "rows.db")
    db["rows"].insert_all(
        [
            {"id": 1, "kind": "a", "at": "2026-11-20T09:00:00Z"},
            {"id": 2, "kind": "b", "at": "2026-11-20T10:00:00Z"},
            {"id": 3, "kind": "a", "at": "2026-11-20T11:00:00Z"},
        ],
        pk="id",
    )
    return db


def ids(db: Database, where: Where) -> list[int]:
    return [row["id"] for row in db.query(f"select id from rows{where.sql} order by id", where.params)]


def test_no_filter_is_no_where_clause(table) -> None:
    where = Where().equals("kind", None).equals("kind", "").time_range("at", None, "")
    assert (where.sql, where.params) == ("", [])
    assert ids(table, where) == [1, 2, 3]


def test_each_given_filter_adds_its_condition_and_binds_its_value_in_order(table) -> None:
    where = Where().equals("kind", "a").time_range("at", "2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z")
    assert where.sql == " where kind = ? and at >= ? and at < ?"
    assert where.params == ["a", "2026-11-20T10:00:00Z", "2026-11-20T12:00:00Z"]
    assert ids(table, where) == [3]


def test_a_time_range_is_half_open_so_ranges_that_meet_share_no_row(table) -> None:
    morning = Where().time_range("at", "2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z")
    later = Where().time_range("at", "2026-11-20T10:00:00Z", None)
    assert ids(table, morning) == [1]
    assert ids(table, later) == [2, 3]


def test_a_value_is_bound_never_written_into_the_sql(table) -> None:
    hostile = "a' or '1' = '1"
    where = Where().equals("kind", hostile)
    assert hostile not in where.sql
    assert ids(table, where) == []


def test_a_condition_with_several_values_and_an_expression_as_the_column(table) -> None:
    where = Where().condition("(at, id) < (?, ?)", "2026-11-20T11:00:00Z", 3).equals("upper(kind)", "A")
    assert where.params == ["2026-11-20T11:00:00Z", 3, "A"]
    assert ids(table, where) == [1]


def test_extend_appends_another_builders_conditions_after_its_own(table) -> None:
    first = Where().condition("id > ?", 1)
    where = first.extend(Where().equals("kind", "a"))
    assert where.joined == "id > ? and kind = ?"
    assert where.params == [1, "a"]
    assert ids(table, where) == [3]


def test_zero_is_a_value_not_an_open_filter(table) -> None:
    assert Where().equals("id", 0).params == [0]
