"""The demo's alert inbox on the sandbox hub: what apprise's JSON target posts lands there, bounded, and the
console lists it with the demo partner API key; a reset empties it."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from services.alerts.destinations import describe, send
from services.demo.hub_client import SandboxClient, SandboxError
from services.sandbox import inbox
from services.settings import demo_alert_url
from tests.support.sandbox_hub import start_hub


def test_it_keeps_the_newest_messages_each_cut_to_size(sandbox_db) -> None:
    for number in range(5):
        inbox.add_message(sandbox_db, {"title": f"alert {number}", "message": "x" * 10_000, "type": "info"}, keep=3)
    rows = inbox.messages(sandbox_db, 10)
    assert [row["title"] for row in rows] == ["alert 4", "alert 3", "alert 2"]
    assert len(rows[0]["message"]) == inbox.MAX_MESSAGE
    inbox.add_message(sandbox_db, {"title": {"not": "text"}, "message": None})
    assert inbox.messages(sandbox_db, 1)[0]["title"] == ""


@pytest.mark.processes
def test_apprise_json_target_reaches_the_inbox_the_console_reads(data_dir: Path) -> None:
    with ExitStack() as stack:
        hub = start_hub(stack, data_dir)
        destination = describe(demo_alert_url(hub.url))
        assert (
            send(destination, "Permission revoked: Cafe Olé, +34 600 111 222", "What happened: ...", "warning") is None
        )
        [received] = hub.sandbox.inbox()
        assert received["title"] == "Permission revoked: Cafe Olé, +34 600 111 222"
        assert (received["message"], received["type"]) == ("What happened: ...", "warning")

        assert requests.get(f"{hub.url}/sandbox/admin/inbox", timeout=10).status_code == 401
        assert requests.post(f"{hub.url}/sandbox/inbox", data=b"{not json", timeout=10).status_code == 400
        assert requests.post(f"{hub.url}/sandbox/inbox", json=["a list"], timeout=10).status_code == 400
        too_big = {"title": "x", "message": "y" * (inbox.MAX_BODY_BYTES + 1)}
        assert requests.post(f"{hub.url}/sandbox/inbox", json=too_big, timeout=10).status_code == 413
        assert len(hub.sandbox.inbox()) == 1

        hub.sandbox.reset()
        assert hub.sandbox.inbox() == []
        stranger = SandboxClient(hub.url, "wrong-key")
        stack.callback(stranger.close)
        with pytest.raises(SandboxError, match="refused"):
            stranger.inbox()
