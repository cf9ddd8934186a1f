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
        not_json = requests.post(
            f"{hub.url}/sandbox/inbox", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=10
        )
        assert not_json.status_code == 400
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


@pytest.mark.processes
def test_only_json_from_no_origin_or_the_hubs_own_reaches_the_inbox(data_dir: Path) -> None:
    with ExitStack() as stack:
        hub = start_hub(stack, data_dir)
        inbox_url = f"{hub.url}/sandbox/inbox"
        fake = '{"title": "Permission revoked", "message": "fake", "type": "warning"}'
        # What any web page may send to another origin without a preflight: text/plain, a form.
        refused = [
            requests.post(inbox_url, data=fake, headers={"Content-Type": "text/plain"}, timeout=10),
            requests.post(
                inbox_url,
                data=fake,
                headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example"},
                timeout=10,
            ),
            requests.post(inbox_url, data={"title": "x"}, timeout=10),
            requests.post(
                inbox_url, data=fake, headers={"Content-Type": "multipart/form-data; boundary=x"}, timeout=10
            ),
            requests.post(inbox_url, data=fake, timeout=10),  # no Content-Type at all
        ]
        assert [response.status_code for response in refused] == [415] * 5
        # JSON from another origin (a page that got past a preflight, or one on another port of this machine).
        for origin in ("https://evil.example", "http://127.0.0.1:1", "null", hub.url.replace("127.0.0.1", "localhost")):
            response = requests.post(inbox_url, json={"title": "x"}, headers={"Origin": origin}, timeout=10)
            assert response.status_code == 403, origin
        # The browser's preflight gets no CORS grant.
        preflight = requests.options(
            inbox_url,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
            timeout=10,
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert hub.sandbox.inbox() == []

        accepted = [
            requests.post(inbox_url, json={"title": "no origin"}, timeout=10),
            requests.post(inbox_url, json={"title": "own origin"}, headers={"Origin": hub.url}, timeout=10),
            requests.post(
                inbox_url,
                data=b'{"title": "with a charset"}',
                headers={"Content-Type": "Application/JSON; charset=utf-8"},
                timeout=10,
            ),
        ]
        assert [response.status_code for response in accepted] == [200] * 3
        assert [row["title"] for row in hub.sandbox.inbox()] == ["with a charset", "own origin", "no origin"]
