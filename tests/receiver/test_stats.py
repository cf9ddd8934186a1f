"""The refusal log's caps, on a real console database: per source, and in all by rows."""

from __future__ import annotations

from sqlite_utils import Database

from services.receiver.stats import KEPT_PER_SOURCE, Rejection, record_rejections, sender


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


def test_a_flood_rotating_through_one_ipv6_slash_64_counts_as_one_sender(db: Database) -> None:
    with db.atomic():
        record_rejections(db, [refused("2001:db8:1::1"), refused("198.51.100.1")])
    with db.atomic():
        record_rejections(db, [refused(f"2001:db8:66::{n:x}") for n in range(1, 1200)])
    sources = logged_sources(db)
    assert sources[:2] == ["2001:db8:1::1", "198.51.100.1"]
    assert len(sources) == 2 + KEPT_PER_SOURCE
    assert all(source.startswith("2001:db8:66::") for source in sources[2:])


def test_a_sender_is_an_address_or_an_ipv6_slash_64() -> None:
    assert sender("203.0.113.9") == "203.0.113.9"
    assert sender("2001:db8:66::abcd") == sender("2001:db8:66:0:ffff::1") == "2001:db8:66::/64"
    assert sender("::ffff:203.0.113.9") == "::ffff:203.0.113.9"
    assert sender("unknown") == "unknown"
