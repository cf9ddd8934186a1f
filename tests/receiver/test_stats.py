"""The refusal log's caps, on a real console database: per source, and in all by rows."""

from __future__ import annotations

from sqlite_utils import Database

from services.receiver.stats import KEPT_PER_SOURCE, Rejection, record_rejections


def refused(source: str, reason: str = "signature missing") -> Rejection:
    return Rejection("2026-12-04T10:00:00+00:00", source, 401, reason)


def logged_sources(db: Database) -> list[str]:
    return [row[0] for row in db.execute("select source from receiver_rejections order by id")]


def test_a_flood_from_one_source_never_pushes_out_the_others(db: Database) -> None:
    with db.atomic():
        record_rejections(db, [refused("198.51.100.1"), refused("198.51.100.2")])
    for _ in range(3):
        with db.atomic():
            record_rejections(db, [refused("203.0.113.66")] * 1100)
    assert logged_sources(db) == ["198.51.100.1", "198.51.100.2"] + ["203.0.113.66"] * KEPT_PER_SOURCE


def test_the_log_keeps_the_newest_rows_in_all(db: Database) -> None:
    with db.atomic():
        record_rejections(db, [refused(f"10.0.0.{n}") for n in range(30)], keep=10)
    assert logged_sources(db) == [f"10.0.0.{n}" for n in range(20, 30)]
