"""The sandbox hub's outbox: retries with backoff, out-of-order deliveries, revocations, stuck channels."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from services.onboarding.redirect import parse_redirect
from services.sandbox import outbox, state


def test_retry_delay_backs_off_and_is_capped() -> None:
    delays = [outbox.retry_delay(attempt) for attempt in range(1, 10)]
    assert delays[:3] == [2.0, 4.0, 8.0]
    assert delays == sorted(delays)
    assert max(delays) == 60.0


def test_mark_failed_pushes_the_delivery_back(sandbox_db: Database) -> None:
    outbox_id = outbox.enqueue_event(sandbox_db, "channel_created", {"id": "aCH"}, due_in=0)
    delivery = outbox.due_deliveries(sandbox_db)[0]
    outbox.mark_failed(sandbox_db, delivery, "receiver answered 500")
    assert outbox.due_deliveries(sandbox_db) == []
    row = sandbox_db["outbox"].get(outbox_id)
    assert (row["attempts"], row["last_error"]) == (1, "receiver answered 500")


def test_out_of_order_holds_back_and_reverses(sandbox_db: Database) -> None:
    first = outbox.enqueue_event(sandbox_db, "channel_created", {"id": "aCH"}, due_in=0)
    second = outbox.enqueue_event(sandbox_db, "channel_status_running", {"id": "aCH"}, due_in=0)
    assert outbox.due_deliveries(sandbox_db, out_of_order=True, hold=60) == []
    assert [row["id"] for row in outbox.due_deliveries(sandbox_db, out_of_order=True)] == [second, first]
    assert [row["id"] for row in outbox.due_deliveries(sandbox_db)] == [first, second]


def test_revocation_returns_the_redirect_query(sandbox_db: Database) -> None:
    client_id, (kept, withdrawn) = outbox.create_client_with_channels(
        sandbox_db, name="Two", numbers=["+49 1", "+49 2"], partner_payload=None, running_after=0
    )
    query = outbox.revoke_permission(sandbox_db, withdrawn)
    redirect = parse_redirect(query)
    assert (redirect.client, redirect.channels, redirect.revoked) == (client_id, (kept,), (withdrawn,))
    with pytest.raises(state.NotFound):
        outbox.revoke_permission(sandbox_db, "missingCH")


def test_never_running_schedules_no_running_transition(sandbox_db: Database) -> None:
    outbox.create_client_with_channels(
        sandbox_db, name="Stuck", numbers=["+49 3"], partner_payload=None, running_after=0, never_running=True
    )
    assert [row["event"] for row in sandbox_db["outbox"].rows] == ["channel_created"]
