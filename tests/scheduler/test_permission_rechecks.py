"""The scheduler notices what a Direct-Paid client changes in its own hub, with no event: against the sandbox hub
over HTTP, a granted number withdrawn and granted again is seen by the scheduler's next turns, each change audited
on the channel and alerted once."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime

import pytest

from services.alerts.rules import scan_rules
from services.channels.projection import get_channel
from services.scheduler.loop import Scheduler
from services.settings import AlertSettings
from tests.support.sandbox_hub import start_hub
from tests.support.servers import wait_for


def _turn_has_come(db) -> None:
    """As if the wait the scheduler set had passed."""
    with db.atomic():
        db.execute("update permission_rechecks set next_at = '2000-01-01T00:00:00+00:00'")


@pytest.mark.processes
def test_a_client_withdrawing_and_granting_in_its_hub_is_noticed(tmp_path, db) -> None:
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub", SANDBOX_DIRECT_PAID="true")
        onboarded = hub.sandbox.onboard("Changing Cafe", ["+49 151 7770001"])
        [channel_id] = onboarded["channel_ids"]
        api = hub.api()
        stack.callback(api.close)
        wait_for(lambda: api.list_channels(filters={"id": channel_id, "status": "running"})["total"] == 1)
        scheduler = Scheduler(db, api, interval_seconds=900, direct_paid=True)

        scheduler.run_once()
        assert get_channel(db, channel_id)["permission"] == "granted"
        first = list(db["permission_rechecks"].rows)
        scheduler.run_once()  # granted: not asked again before a day has passed
        assert list(db["permission_rechecks"].rows) == first

        hub.sandbox.revoke(channel_id)  # in its hub; the redirect never reaches the console
        _turn_has_come(db)
        scheduler.run_once()
        assert get_channel(db, channel_id)["permission"] == "not_shared"
        findings = scan_rules(db, AlertSettings(), datetime.now(UTC))["permission_changed"].findings
        assert [finding.subject for finding in findings] == [f"{channel_id}/not_shared"]

        hub.sandbox.grant(channel_id)
        _turn_has_come(db)
        scheduler.run_once()
        assert get_channel(db, channel_id)["permission"] == "granted"
        findings = scan_rules(db, AlertSettings(), datetime.now(UTC))["permission_changed"].findings
        assert [finding.subject for finding in findings] == [f"{channel_id}/granted"]

    changes = [
        row["detail"].split(":")[0]
        for row in db.query(
            "select detail from audit where action = 'check_permission' and channel_id = ? order by id", [channel_id]
        )
    ]
    assert changes == ["unknown -> granted", "granted -> not_shared", "not_shared -> granted"]
