"""The demo page in AppTest: its errors are clear messages, and it exists only in demo mode."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from services.accounts import VIEWER, NotAllowed, refusal
from services.channels.projection import upsert_channel
from services.demo.controls import DEMO_ACTION, run_control
from services.sandbox.server import create_app
from tests.support.console import console_db, use_live
from tests.support.pages import as_person, close_session_db, page_app
from tests.support.people import person
from tests.support.sandbox_hub import RecordingReceiver, sandbox_settings
from tests.support.servers import free_port, serving, wait_for


def _hub_at(monkeypatch: pytest.MonkeyPatch, sandbox_port: int, receiver_port: int) -> None:
    monkeypatch.setenv("SANDBOX_URL", f"http://127.0.0.1:{sandbox_port}")
    monkeypatch.setenv("CONSOLE_RECEIVER_URL", f"http://127.0.0.1:{receiver_port}")


def _texts(app: AppTest) -> str:
    return "\n".join(str(element.value) for element in [*app.error, *app.text, *app.success, *app.info])


def _next_to(label: str, app: AppTest) -> list[str]:
    """The success and error messages in the same box as the button labelled `label`."""

    def boxes(block):
        children = list(block.children.values())
        yield children
        for child in children:
            if hasattr(child, "children"):
                yield from boxes(child)

    for children in boxes(app.main):
        if any(getattr(child, "label", None) == label and child.type == "button" for child in children):
            return [child.value for child in children if child.type in ("success", "alert") or
                    type(child).__name__ in ("Success", "Error")]  # fmt: skip
    raise AssertionError(f"no button {label!r}")


def test_an_unreachable_hub_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _hub_at(monkeypatch, free_port(), free_port())
    app = page_app("demo.py").run()
    assert not app.exception
    assert "The sandbox hub cannot be reached." in [element.value for element in app.error]
    next(button for button in app.button if button.label == "Load realistic scenario").click().run()
    assert not app.exception
    assert "cannot reach the sandbox hub" in _texts(app)


def test_the_page_refuses_live_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_live(monkeypatch, tmp_path, "a long operator password")
    app = page_app("demo.py").run()
    assert not app.exception
    assert any("only in demo mode" in element.value for element in app.error)
    assert not app.button


@pytest.mark.processes  # the sandbox hub and a receiver on uvicorn
def test_controls_against_a_running_hub(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox_port, receiver_port = free_port(), free_port()
    _hub_at(monkeypatch, sandbox_port, receiver_port)
    settings = sandbox_settings(data_dir, sandbox_port=sandbox_port, receiver_port=receiver_port)
    with ExitStack() as stack:
        stack.enter_context(serving(RecordingReceiver().app(), receiver_port))
        stack.enter_context(serving(create_app(settings), sandbox_port))
        app = page_app("demo.py").run()
        assert any("No channel yet" in element.value for element in app.info)
        [onboard] = [button for button in app.button if button.label == "Onboard a stuck channel"]
        onboard.click().run()
        assert not app.exception
        assert "Onboarded; the channel will stay pending." in [element.value for element in app.success]
        # The answer is right below the button that asked, not at the top of the page.
        assert _next_to("Onboard a stuck channel", app) == ["Onboarded; the channel will stay pending."]

        # A channel the console knows but the hub does not: the hub's refusal is shown, nothing breaks.
        with console_db(settings.console_db_path) as db, db.atomic():
            upsert_channel(db, "ghostCH", {"client_id": "ghostCL", "status": "running"}, source="test")
        app.run()
        channel_box = next(box for box in app.selectbox if box.label == "Channel")
        channel_box.set_value("ghostCH").run()
        [revoke] = [button for button in app.button if button.label == "Client revokes permission"]
        revoke.click().run()
        assert not app.exception
        assert "That did not work." in [element.value for element in app.error]
        assert "Channel ghostCH not found" in _texts(app)
        assert _next_to("Client revokes permission", app) == ["That did not work."]


@pytest.mark.processes  # the sandbox hub and a receiver on uvicorn
def test_account_and_template_controls_say_what_they_act_on(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox_port, receiver_port = free_port(), free_port()
    _hub_at(monkeypatch, sandbox_port, receiver_port)
    settings = sandbox_settings(data_dir, sandbox_port=sandbox_port, receiver_port=receiver_port)
    with ExitStack() as stack:
        receiver = RecordingReceiver()
        stack.enter_context(serving(receiver.app(), receiver_port))
        stack.enter_context(serving(create_app(settings), sandbox_port))
        app = page_app("demo.py").run()
        next(button for button in app.button if button.label == "Onboard a stuck channel").click().run()
        channel_id = next(box for box in app.selectbox if box.label == "Channel").value
        assert any("+49 151 4040404" in element.value for element in app.caption)

        next(button for button in app.button if button.label == "Send account restriction").click().run()
        assert not app.exception
        assert "The account restriction is on its way to the receiver." in [element.value for element in app.success]
        assert f"names only the number 491514040404; the console matches it to {channel_id}" in _texts(app)

        next(box for box in app.selectbox if box.label == "Template status").set_value("rejected").run()
        next(button for button in app.button if button.label == "Send template status change").click().run()
        assert "The template status change is on its way to the receiver." in [element.value for element in app.success]
        # A client's numbers share one WABA: the event names the client's.
        assert "template order_update rejected on WABA " in _texts(app)
        assert f"WA, the one behind {channel_id}" in _texts(app)

        next(box for box in app.selectbox if box.label == "Portfolio limit").set_value("2000").run()
        next(button for button in app.button if button.label == "Send portfolio limit").click().run()
        assert "One quality event per number of the portfolio is on its way to the receiver." in [
            element.value for element in app.success
        ]
        assert "limit 2000 for business portfolio " in _texts(app)
        assert "BU: 1 number(s) told" in _texts(app)

        next(box for box in app.selectbox if box.label == "Cancellation step").set_value("process").run()
        next(button for button in app.button if button.label == "Send cancellation step").click().run()
        assert "The cancellation step is on its way to the receiver." in [element.value for element in app.success]
        assert f"cancellation_processed for {channel_id}; its channel object now carries terminated_at" in _texts(app)
        wanted = {"cancellation_processed", "phone_number_quality_changed"}
        wait_for(lambda: wanted <= {json.loads(raw)["event"] for raw in receiver.bodies()}, timeout=30)


def test_each_control_is_audited_with_its_outcome(monkeypatch: pytest.MonkeyPatch, db_path: Path) -> None:
    _hub_at(monkeypatch, free_port(), free_port())
    app = page_app("demo.py").run()
    next(button for button in app.button if button.label == "Load realistic scenario").click().run()
    assert not app.exception
    close_session_db(app)
    with console_db(db_path) as db:
        rows = [(row["action"], row["outcome"]) for row in db["audit"].rows]
    assert rows == [("demo_load_scenario", "failed")]


REGENERATE = "Client regenerates its own key in its hub"


@pytest.mark.processes  # the sandbox hub and a receiver on uvicorn
def test_the_key_regeneration_control_names_what_it_acts_on_and_is_audited(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox_port, receiver_port = free_port(), free_port()
    _hub_at(monkeypatch, sandbox_port, receiver_port)
    settings = sandbox_settings(data_dir, sandbox_port=sandbox_port, receiver_port=receiver_port)
    with ExitStack() as stack:
        stack.enter_context(serving(RecordingReceiver().app(), receiver_port))
        stack.enter_context(serving(create_app(settings), sandbox_port))
        app = page_app("demo.py").run()
        next(button for button in app.button if button.label == "Onboard a stuck channel").click().run()
        channel_id = next(box for box in app.selectbox if box.label == "Channel").value
        # People see the business and the number, not only the channel id.
        assert any("Stuck Studio generates its own key for +49 151 4040404" in element.value for element in app.caption)
        assert any("Acting on **Stuck Studio** · +49 151 4040404" in element.value for element in app.markdown)

        [regenerate] = [button for button in app.button if button.label == REGENERATE]
        assert not regenerate.disabled
        regenerate.click().run()
        assert not app.exception
        assert "Stuck Studio, +49 151 4040404: the client's own key replaced the partner's." in [
            element.value for element in app.success
        ]
        assert "Stuck Studio (+49 151 4040404) generated its own key in its hub" in _texts(app)
        close_session_db(app)
    with console_db(settings.console_db_path) as db:
        [(outcome, audited_channel, detail)] = db.execute(
            "select outcome, channel_id, detail from audit where action = 'demo_regenerate_key'"
        ).fetchall()
    assert (outcome, audited_channel) == ("ok", channel_id)
    assert "Stuck Studio (+49 151 4040404)" in detail


def test_a_viewer_finds_the_key_regeneration_disabled_and_is_refused(
    demo: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANDBOX_URL", f"http://127.0.0.1:{free_port()}")
    with console_db(db_path) as db, db.atomic():
        upsert_channel(db, "vCH", {"client_id": "vCL", "status": "running"}, source="test")
    viewer = person("vera", VIEWER)
    as_person(monkeypatch, viewer)
    app = page_app("demo.py").run()
    assert not app.exception
    [regenerate] = [button for button in app.button if button.label == REGENERATE]
    assert (regenerate.disabled, regenerate.help) == (True, refusal(viewer, DEMO_ACTION))
    close_session_db(app)

    # The service refuses it too, whatever a widget says, and audits the refusal; the hub is never asked.
    asked = []
    with console_db(db_path) as db:
        with pytest.raises(NotAllowed):
            run_control(db, viewer, "regenerate_key", lambda: asked.append(1) or "", channel_id="vCH")
        rows = db.execute("select action, outcome, channel_id from audit").fetchall()
    assert asked == []
    assert rows == [(DEMO_ACTION, "refused", "vCH")]
