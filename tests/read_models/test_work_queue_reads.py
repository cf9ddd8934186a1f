"""A refresh of the work queue (the Channels page's and Today's) reads the first few channels of each reason through
an index, never every channel: what SQLite plans for each statement, and how much work it does at 2,400 channels
and at 24,000."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from services.keys.key_status import STEPS
from services.read_models.today import day_picture
from services.read_models.work_queue import ATTENTION_LIMIT
from services.read_models.workbench import work_queue
from tests.support.console import console_db

STATUSES = ("created", "pending", "submitted", "ready", "running", "running", "running", "running")
EVERY = 16  # one channel in EVERY has each reason; the smaller size still fills every reason's first page
# Each reason's offset among EVERY channels, with the status it needs (the offset modulo the eight statuses).
QUALITY, REVOKED, CANCELLING, REFUSED, NO_KEY, LEFT, NOT_READY, STOPPED, UNKNOWN = 1, 2, 3, 4, 6, 9, 12, 14, 15
SMALL, LARGE = 2_400, 24_000
SPAN = timedelta(days=30)


def _channel(index: int, count: int, now: datetime) -> dict[str, object]:
    """Spread over the last 30 days, oldest first; each reason held by one channel in EVERY."""
    at = (now - SPAN + SPAN * index / count).isoformat(timespec="microseconds")
    reason = index % EVERY
    return {
        "id": f"ch{index:06d}CH",
        "status": STATUSES[index % len(STATUSES)],
        "phone_number": f"+49151{index:07d}",
        "quality_rating": "RED" if reason == QUALITY else "GREEN",
        "revoked": 1 if reason == REVOKED else 0,
        "cancellation": "requested" if reason == CANCELLING else None,
        "cancellation_at": at if reason == CANCELLING else None,
        "key_refusal": "permission withdrawn" if reason == REFUSED else None,
        "key_refused_at": at if reason == REFUSED else None,
        "left_running_at": at if reason == LEFT else None,
        "left_running_to": "running" if reason == LEFT else None,
        "permission": "granted",
        "status_changed_at": at,
        "updated_at": at,
    }


def _seeded(path: Path, count: int) -> Path:
    now = datetime.now(UTC)
    with console_db(path) as db, db.atomic():
        db["channels"].insert_all(_channel(index, count, now) for index in range(count))
        # Every other running channel has a key, most of them ready to use: those wanting one, or a check, are found
        # without reading all the others.
        number = f"cast(substr(id, 3, 6) as integer) % {EVERY}"
        db.execute(
            "insert into api_keys (channel_id, operator, created_at, outcome, status)"
            f" select id, 'ops', updated_at, iif({number} = {UNKNOWN}, 'unknown', 'ok'),"
            f" iif({number} = {UNKNOWN}, null, 'active') from channels"
            # The older channels got theirs long ago: those still without one are the newest.
            f" where status = 'running' and ({number} != {NO_KEY} or cast(substr(id, 3, 6) as integer) < {count // 2})"
        )
        db.execute(
            "insert into key_steps (key_id, step, status, detail, at)"
            " select k.id, s.value, 'ok', '', k.created_at from api_keys k, json_each(?) s"
            f" where cast(substr(k.channel_id, 3, 6) as integer) % {EVERY} != {NOT_READY}",
            [json.dumps(list(STEPS))],
        )
        db.execute(
            "insert into key_health (key_id, channel_id, status, detail, checked_at, changed_at, due_at)"
            " select id, channel_id, 'stopped', '401', created_at, created_at, 0 from api_keys"
            f" where cast(substr(channel_id, 3, 6) as integer) % {EVERY} = {STOPPED}"
        )
    return path


def _refresh(db: Database) -> None:
    work_queue(db, stuck_after_minutes=60)
    day_picture(db, stuck_after_minutes=60, public_url="https://console.example")


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        db.conn.set_trace_callback(None)


def _partial_indexes(db: Database) -> set[str]:
    return {row[1] for row in db.execute("pragma index_list('channels')") if row[4]}


def _full_reads_of_channels(db: Database, sql: str) -> list[str]:
    """The steps of the statement's plan that read the channels table through anything but a lookup or an index
    holding only some channels."""
    partial = _partial_indexes(db)
    aliases = {"channels", *re.findall(r"\bchannels\s+(?:as\s+)?(\w+)", sql)} - {"where", "on", "left", "join"}
    plan = [row[3] for row in db.execute(f"explain query plan {sql}")]
    scans = []
    for step in plan:
        found = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", step)
        if found and found.group(1) in aliases and found.group(2) not in partial:
            scans.append(step)
    return scans


@pytest.fixture(scope="module")
def sizes(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("work-queue-reads")
    return {count: _seeded(folder / f"{count}.db", count) for count in (SMALL, LARGE)}


def test_every_reason_has_a_full_first_page_at_both_sizes(sizes) -> None:
    for path in sizes.values():
        with console_db(path) as db:
            reasons = {}
            for row in work_queue(db, stuck_after_minutes=60):
                reasons[row.reason] = reasons.get(row.reason, 0) + 1
        assert {reason: reasons.get(reason) for reason in _SEEDED_REASONS} == dict.fromkeys(
            _SEEDED_REASONS, ATTENTION_LIMIT
        )


_SEEDED_REASONS = (
    "quality RED or FLAGGED",
    "revoked",
    "cancellation requested",
    "refused by 360dialog",
    "left running",
    "running without a key",
    "stuck",
    "key not ready to use",
    "key stopped working",
    "check key state",
)


def test_a_refresh_reads_channels_only_through_lookups_and_partial_indexes(sizes) -> None:
    with console_db(sizes[LARGE]) as db:
        with _statements(db) as statements:
            _refresh(db)
        reads = [sql for sql in dict.fromkeys(statements) if sql.lstrip().lower().startswith("select")]
        assert reads
        scans = {" ".join(sql.split())[:120]: _full_reads_of_channels(db, sql) for sql in reads}
    assert {sql: steps for sql, steps in scans.items() if steps} == {}


def _work_done(path: Path) -> int:
    """SQLite's virtual machine steps for one refresh (counted in hundreds), warm: the same at every run."""
    with console_db(path) as db:
        _refresh(db)
        steps = 0

        def count() -> int:
            nonlocal steps
            steps += 1
            return 0

        db.conn.set_progress_handler(count, 100)
        _refresh(db)
        db.conn.set_progress_handler(None, 100)
    return steps


def test_a_refresh_does_as_much_at_24000_channels_as_at_2400(sizes) -> None:
    small, large = _work_done(sizes[SMALL]), _work_done(sizes[LARGE])
    assert large <= small * 1.2, f"{large} hundred steps at {LARGE:,} channels against {small} at {SMALL:,}"
