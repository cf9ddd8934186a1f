"""How a webhook's channel is written: an existing channel is updated with only the columns the event's facts
can change, a new one inserted; the rows come out as the one upsert with every fact bound makes them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from services.channels import projection
from services.channels.projection import (
    API_CHANNEL_FIELDS,
    DIRECT_RULES,
    PARTNER_API_RULES,
    WEBHOOK_RULES,
    MergeRules,
    apply_webhook_events,
    write_api_channels,
)
from services.events.webhook import ChannelFacts
from tests.support.console import console_db

CHANNELS = ("ch-1", "ch-2", "ch-3")
STATUSES = (None, "created", "pending", "submitted", "ready", "running", "suspended")
PHONES = (None, "+49 170 1234567", "491701234567", "+1 (555) 010-0000")
TERMINATIONS = (None, "2025-11-03T09:40:02Z", "2025-11-04T10:00:00+01:00", "soon")
EVENT_KINDS = (
    ("channel_created", "channel_created"),
    ("channel_running", "channel"),
    ("phone_number_quality_changed", "quality"),
    ("client_created", "client_created"),
    ("cancellation_request", "cancellation"),
    ("cancellation_processed", "cancellation"),
    ("cancellation_revoke", "cancellation"),
)
TIMES = tuple(f"2025-11-0{day}T09:00:00.000000+00:00" for day in range(1, 8))


def _maybe(*values: str) -> st.SearchStrategy[str | None]:
    return st.sampled_from((None, *values))


@st.composite
def webhook_events(draw: st.DrawFn) -> ChannelFacts:
    event_type, kind = draw(st.sampled_from(EVENT_KINDS))
    return ChannelFacts(
        event_type=event_type,
        kind=kind,
        channel_id=draw(_maybe(*CHANNELS)),
        client_id=draw(_maybe("cl-1", "cl-2")),
        status=draw(st.sampled_from(STATUSES)),
        quality_rating=draw(_maybe("GREEN", "YELLOW", "RED", "FLAGGED")),
        messaging_limit=draw(_maybe("TIER_1K", "TIER_10K")),
        phone_number=draw(st.sampled_from(PHONES)),
        phone_name=draw(_maybe("Shop", "Café Nord")),
        client_name=draw(_maybe("Acme", "Globex")),
        waba_id=draw(_maybe("waba-1", "waba-2")),
        waba_external_id=draw(_maybe("ext-1")),
        portfolio_id=draw(_maybe("pf-1")),
        terminated_at=draw(st.sampled_from(TERMINATIONS)),
    )


@st.composite
def api_channels(draw: st.DrawFn) -> dict[str, Any]:
    facts = {name: draw(_maybe(f"{name}-a", f"{name}-b")) for name in API_CHANNEL_FIELDS}
    facts |= {
        "id": draw(st.sampled_from(CHANNELS)),
        "status": draw(st.sampled_from(STATUSES)),
        "phone_number": draw(st.sampled_from(PHONES)),
        "terminated_at": draw(st.sampled_from(TERMINATIONS)),
        "quality_rating": draw(_maybe("GREEN", "RED")),
        "status_since": draw(st.sampled_from((None, *TIMES))),
    }
    return facts


# A step: webhooks received at ordered times, or a Partner API page written at one time.
webhook_batches = st.lists(st.tuples(webhook_events(), st.sampled_from(TIMES)), min_size=1, max_size=12).map(
    lambda pairs: ("webhooks", [event for event, _ in pairs], sorted(at for _, at in pairs))
)
api_pages = st.tuples(st.just("api"), st.lists(api_channels(), min_size=1, max_size=4), st.sampled_from(TIMES))
steps = st.lists(st.one_of(webhook_batches, api_pages), min_size=1, max_size=6)


def _apply(db: Database, story: list[tuple[Any, ...]]) -> None:
    for kind, items, at in story:
        if kind == "webhooks":
            apply_webhook_events(db, items, at=at)
        else:
            write_api_channels(db, items, [], now=at)


def _state(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table a channel write reaches, whole: rows, generated columns, trigger-kept counts and names."""
    queries = {
        "channels": "select * from channels order by id",
        "clients": "select * from clients order by id",
        "channel_stages": "select * from channel_stages order by status",
        "channel_names": "select channel_id, name from channel_names order by channel_id, name",
        "client_names": "select client_id, name from client_names order by client_id, name",
        "channels_wanting_key": "select * from channels_wanting_key order by channel_id",
        "channels_wanting_key_counts": "select * from channels_wanting_key_counts order by granted",
    }
    return {table: db.execute(sql).fetchall() for table, sql in queries.items()}


@pytest.fixture(scope="module")
def scratch_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One migrated database; each example runs in a transaction rolled back after it."""
    with console_db(Path(tmp_path_factory.mktemp("writes")) / "console.db") as database:
        yield database


def _state_after(db: Database, story: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    db.conn.execute("begin")
    try:
        _apply(db, story)
        return _state(db)
    finally:
        db.conn.execute("rollback")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(story=steps)
def test_channels_come_out_as_the_one_upsert_with_every_fact_makes_them(
    scratch_db: Database, story: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _state_after(scratch_db, story)
    with monkeypatch.context() as patch:
        # As webhooks were written before, and syncs still are: the upsert, every fact bound, row after row.
        patch.setattr(projection, "_write_given_facts", projection._write_channels)
        expected = _state_after(scratch_db, story)

    assert written == expected


@pytest.mark.parametrize("rules", [WEBHOOK_RULES, PARTNER_API_RULES, DIRECT_RULES])
def test_with_no_fact_given_the_merge_leaves_every_column_but_the_write_time_and_source(
    scratch_db: Database, rules: MergeRules
) -> None:
    # The update leaves out a column whose merge reads no fact given: that merge must leave the column as it is.
    scratch_db.conn.execute("begin")
    try:
        story = [("webhooks", [event], [TIMES[0]]) for event in _varied_events()]
        _apply(scratch_db, story)
        before = _channel_rows(scratch_db)
        for channel_id in before:
            scratch_db.execute(
                projection._channel_upsert_sql(rules, ()), {"id": channel_id, "now": TIMES[-1], "source": "nothing"}
            )
        after = _channel_rows(scratch_db)
    finally:
        scratch_db.conn.execute("rollback")

    assert len(before) == len(CHANNELS)
    for channel_id, row in before.items():
        assert {**row, "updated_at": TIMES[-1], "last_source": "nothing"} == after[channel_id]


def _varied_events() -> list[ChannelFacts]:
    """Channels left in unlike states: cancelled, terminated, left running, with a quality history."""
    base = dict.fromkeys(ChannelFacts.__dataclass_fields__) | {"client_id": "cl-1"}
    return [
        ChannelFacts(**base | {"event_type": "channel_created", "kind": "channel_created", "channel_id": channel})
        for channel in CHANNELS
    ] + [
        ChannelFacts(**base | {"event_type": "channel_running", "kind": "channel", "channel_id": "ch-1"}),
        ChannelFacts(**base | {"event_type": "x", "kind": "channel", "channel_id": "ch-1", "status": "running"}),
        ChannelFacts(**base | {"event_type": "q", "kind": "quality", "channel_id": "ch-1", "quality_rating": "RED"}),
        ChannelFacts(**base | {"event_type": "q", "kind": "quality", "channel_id": "ch-1", "quality_rating": "GREEN"}),
        ChannelFacts(**base | {"event_type": "cancellation_processed", "kind": "cancellation", "channel_id": "ch-2"}),
        ChannelFacts(
            **base
            | {"event_type": "x", "kind": "channel", "channel_id": "ch-3", "terminated_at": TERMINATIONS[1]}
            | {"phone_number": PHONES[1], "phone_name": "Shop", "waba_id": "waba-1"}
        ),
    ]


def _channel_rows(db: Database) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in db.query("select * from channels")}


def test_a_status_alone_updates_only_the_status_its_time_and_the_write() -> None:
    sql = projection._channel_update_sql(WEBHOOK_RULES, ("status",))

    assert sql.startswith("update channels set")
    assert sorted(re.findall(r'^\s*"(\w+)" = ', sql, re.MULTILINE)) == [
        "last_source",
        "status",
        "status_changed_at",
        "updated_at",
    ]
