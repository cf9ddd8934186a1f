"""Each role meets each page: a viewer finds every action disabled with the reason and no secret shown; an
operator finds the operators' actions enabled and the admins' disabled with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from services.accounts import ADMIN, OPERATOR, VIEWER, Person, refusal
from services.channels.projection import upsert_channel
from services.keys.bulk import BulkSummary
from services.onboarding.redirect_store import receive_redirect
from tests.support.console import console_db, use_demo
from tests.support.pages import as_person, close_session_db, page_app
from tests.support.people import person
from tests.support.servers import free_port

KEY = "secret-key-" + "Zx9" * 8
SIGNING_SECRET = "io-secret-" + "Qw4" * 8

# Per page: each action control (the start of its label) and the action it does.
CONTROLS: dict[str, list[tuple[str | tuple[str, ...], str]]] = {
    "channels.py": [
        ("Sync all from the Partner API", "sync_channels"),
        ("Generate keys for", "bulk_generate_keys"),
        # "Make keys ready" is a button only while a key waits; with none it is a status line.
    ],
    "channel view": [
        ("Generate key for", "generate_key"),
        ("Sync ", "sync_channels"),
        ("Reveal key", "reveal_key"),
    ],
    "bulk keys": [("Download the 1 new keys", "export_keys")],
    "redirects.py": [
        ("Discard the 1 unreviewed", "discard_redirect"),
        ("Check with 360dialog and apply redirect", "apply_redirect"),
        ("Discard redirect #", "discard_redirect"),
    ],
    "connect.py": [("New link", "hand_out_link"), ("Create a new link", "hand_out_link")],
    "alerts.py": [("Send a test alert", "send_test_alert")],
    "demo.py": [
        ("Load realistic scenario", "demo_controls"),
        ("Reset demo", "demo_controls"),
        ("Send quality change", "demo_controls"),
        ("Client revokes permission", "demo_controls"),
        ("Onboard a stuck channel", "demo_controls"),
    ],
}
# Pages with nothing but reading: every role meets them alike.
READING_PAGES = ("clients.py", "events.py", "receiver.py")


@pytest.fixture(autouse=True)
def seeded(monkeypatch: pytest.MonkeyPatch, data_dir: Path, db_path: Path) -> None:
    """A running channel with no key, a redirect held for review, an alert destination and a signing secret."""
    use_demo(
        monkeypatch,
        data_dir,
        CONSOLE_ALERT_URLS=f"json://127.0.0.1:{free_port()}/hook",
        CONSOLE_SANDBOX_URL=f"http://127.0.0.1:{free_port()}",
        D360_IO_SIGNATURE="true",
        D360_PLATFORM_SECRET=SIGNING_SECRET,
    )
    st.cache_resource.clear()
    with console_db(db_path) as db:
        upsert_channel(db, "chA1", {"status": "running", "client_id": "cliX"}, source="test")
        receive_redirect(db, "client=cliX&channels=[chA1]")


def _run(page: str, who: Person, monkeypatch: pytest.MonkeyPatch, sessions: list[AppTest]) -> AppTest:
    as_person(monkeypatch, who)
    app = page_app("channels.py" if page in ("channel view", "bulk keys") else page)
    sessions.append(app)
    if page == "channel view":
        app.query_params["open"] = "chA1"
        app.session_state["new_key"] = {
            "channel_id": "chA1",
            "label": "chA1",
            "api_key": KEY,
            "last4": KEY[-4:],
            "address": "https://waba.test",
            "revealed": False,
        }
    if page == "bulk keys":
        app.session_state["bulk_keys"] = [{"channel_id": "chA1", "api_key": KEY, "address": "https://waba.test"}]
        app.session_state["bulk_summary"] = BulkSummary()
    app.run()
    assert not app.exception, [error.value for error in app.exception]
    return app


def _controls(app: AppTest) -> list:
    return [*app.button, *app.get("download_button"), *app.get("form_submit_button")]


def _control(app: AppTest, start: str | tuple[str, ...]):
    found = [control for control in _controls(app) if control.label.startswith(start)]
    assert found, f"no control {start!r} among {[control.label for control in _controls(app)]}"
    return found


def _everything_shown(app: AppTest) -> str:
    kinds = ("code", "text", "markdown", "caption", "success", "info", "warning", "error", "dataframe")
    return "\n".join(str(element.value) for kind in kinds for element in app.get(kind))


@pytest.mark.parametrize("page", list(CONTROLS))
def test_a_viewer_finds_every_action_disabled_with_the_reason(page, monkeypatch, sessions) -> None:
    viewer = person("vera", VIEWER)
    app = _run(page, viewer, monkeypatch, sessions)
    for start, action in CONTROLS[page]:
        for control in _control(app, start):
            assert control.disabled, control.label
            assert control.help == refusal(viewer, action)


@pytest.mark.parametrize("page", list(CONTROLS))
def test_an_operator_finds_the_operators_actions_enabled_and_the_admins_disabled(page, monkeypatch, sessions) -> None:
    operator = person("otto", OPERATOR)
    app = _run(page, operator, monkeypatch, sessions)
    for start, action in CONTROLS[page]:
        reason = refusal(operator, action)
        for control in _control(app, start):
            if reason is None:
                assert control.help != refusal(person("vera", VIEWER), action), control.label
                assert not control.disabled, control.label
            else:
                assert (control.disabled, control.help) == (True, reason), control.label


def test_an_admin_finds_the_admins_actions_enabled(monkeypatch, sessions) -> None:
    app = _run("alerts.py", person("ada", ADMIN), monkeypatch, sessions)
    [test_alert] = _control(app, "Send a test alert")
    assert not test_alert.disabled


@pytest.mark.parametrize("page", ["channel view", "bulk keys", "connect.py", "redirects.py"])
def test_a_viewer_sees_no_secret(page, monkeypatch, sessions) -> None:
    app = _run(page, person("vera", VIEWER), monkeypatch, sessions)
    shown = _everything_shown(app)
    assert KEY not in shown
    assert SIGNING_SECRET not in shown
    assert "io_signature=" not in shown
    assert not [button for button in app.get("download_button") if button.label.startswith("Download the")]


def test_a_viewer_is_told_why_a_section_is_unavailable(monkeypatch, sessions) -> None:
    viewer = person("vera", VIEWER)
    app = _run("channel view", viewer, monkeypatch, sessions)
    captions = [caption.value for caption in app.caption]
    # The caption is Markdown, its reason escaped.
    assert any(
        "Viewers cannot generate keys" in caption and "ask an operator or an admin" in caption for caption in captions
    ), captions


@pytest.mark.parametrize("page", READING_PAGES)
def test_a_viewer_reads_every_reading_page(page, monkeypatch, sessions, db_path) -> None:
    _run(page, person("vera", VIEWER), monkeypatch, sessions)
    for app in sessions:
        close_session_db(app)
    with console_db(db_path) as db:
        assert db["audit"].count == 0
