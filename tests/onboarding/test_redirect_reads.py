"""One read of the channels a redirect names per decision: read up front, decided from, then applied."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import responses
from sqlite_utils import Database

from services.channels.projection import get_channel, upsert_channel
from services.onboarding.links import LinkRequest, hand_out_link
from services.onboarding.redirect_decision import (
    APPLIED_BY_OPERATOR,
    APPLIED_BY_STATE,
    APPLIED_CONFIRMED,
    PENDING,
    apply_after_review,
    confirm_waiting_redirects,
)
from services.onboarding.redirect_store import receive_redirect
from tests.support.people import person

# A statement that reads the channels table: a select, a join or a subquery naming it.
_READS_CHANNELS = re.compile(r"\b(from|join)\s+channels\b", re.IGNORECASE)


@contextmanager
def _channel_reads(db: Database) -> Iterator[list[str]]:
    """The statements run on `db` that read `channels`, as they run."""
    reads: list[str] = []
    db.conn.set_trace_callback(lambda sql: reads.append(sql) if _READS_CHANNELS.search(sql) else None)
    try:
        yield reads
    finally:
        db.conn.set_trace_callback(None)


def _lists(api, client_id: str, *channel_ids: str) -> None:
    channels = [
        {"id": channel_id, "client_id": client_id, "status": "running", "setup_info": {"phone_number": f"+4915{n}"}}
        for n, channel_id in enumerate(channel_ids)
    ]
    body = {"count": len(channels), "total": len(channels), "partner_channels": channels}
    responses.get(f"{api.base_url}/partners/{api.partner_id}/channels", json=body)


def _shares(api, client_id: str, *channel_ids: str) -> None:
    numbers = [{"channel_id": channel_id} for channel_id in channel_ids]
    responses.get(
        f"{api.base_url}/partners/{api.partner_id}/clients/{client_id}/shared_client_numbers",
        json={"count": len(numbers), "shared_client_numbers": numbers},
    )


def test_a_redirect_vouched_for_by_its_state_reads_its_channels_once(db) -> None:
    for channel_id in ("chA", "chB", "chC"):
        upsert_channel(db, channel_id, {"status": "running"}, source="webhook")
    state = hand_out_link(db, LinkRequest(), partner_id="pa", actor=person("ana")).state
    with _channel_reads(db) as reads:
        stored = receive_redirect(db, f"client=cliX&channels=[chA,chB]&revoked=[chC]&state={state}")
    assert stored.verdict == APPLIED_BY_STATE
    assert [get_channel(db, id_)["permission"] for id_ in ("chA", "chB", "chC")] == ["granted", "granted", "revoked"]
    assert len(reads) == 1, reads


@responses.activate
def test_a_redirect_360dialog_confirms_reads_its_channels_once(db, api) -> None:
    for channel_id in ("chA", "chB"):
        upsert_channel(db, channel_id, {"client_id": "cliX", "status": "running"}, source="webhook")
    stored = receive_redirect(db, "client=cliX&channels=[chA,chNew]&revoked=[chB]", direct_paid=True)
    assert stored.verdict == PENDING
    _lists(api, "cliX", "chA", "chB", "chNew")
    _shares(api, "cliX", "chA", "chNew")
    with _channel_reads(db) as reads:
        [decision] = confirm_waiting_redirects(db, api, direct_paid=True, budget=5)
    assert decision.verdict == APPLIED_CONFIRMED
    assert (get_channel(db, "chNew")["permission"], get_channel(db, "chB")["revoked"]) == ("granted", 1)
    assert len(reads) == 1, reads


@responses.activate
def test_a_redirect_an_operator_applies_reads_its_channels_once(db, api) -> None:
    for channel_id in ("chA", "chB", "chC"):
        upsert_channel(db, channel_id, {"client_id": "cliX", "status": "running"}, source="webhook")
    stored = receive_redirect(db, "client=cliX&channels=[chA,chB]&revoked=[chC]")
    _lists(api, "cliX", "chA", "chB", "chC")
    with _channel_reads(db) as reads:
        decision = apply_after_review(db, api, stored.id, actor=person("ana"))
    assert decision.verdict == APPLIED_BY_OPERATOR
    assert get_channel(db, "chC")["revoked"] == 1
    assert len(reads) == 1, reads
