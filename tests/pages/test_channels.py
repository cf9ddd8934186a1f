"""The Channels page through AppTest: table, funnel, attention, detail, keys, sync, bulk, failures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
import responses

from services.channels.projection import upsert_channel
from services.channels.sync_runs import recent_runs
from tests.support.console import console_db
from tests.support.mocked_hub import BASE
from tests.support.pages import close_session_db, page_app
from tests.support.partner_channels import hold_lease

KEY_URL = re.compile(rf"{BASE}/partners/demoPA/channels/(\w+)/api_keys")
CHANNELS = f"{BASE}/partners/demoPA/channels"


@pytest.fixture(autouse=True)
def mocked_hub(demo_mode: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console talks to the hub that `mocked` answers for."""
    monkeypatch.setenv("D360_API_BASE_URL", BASE)


@pytest.fixture
def app():
    test_app = page_app("channels.py")
    yield test_app
    close_session_db(test_app)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _channels(db_path, *rows: dict) -> None:
    with console_db(db_path) as db, db.atomic():
        for row in rows:
            upsert_channel(db, row["id"], {k: v for k, v in row.items() if k != "id"}, source="test")


def _key_answer(request):
    channel = KEY_URL.match(request.url).group(1)
    return 201, {}, json.dumps({"api_key": f"secret-{channel}-0123456789abcdef", "address": "https://waba.test"})


MESSAGING = "https://waba.test"
HEALTHY = {"health_status": {"can_send_message": "AVAILABLE", "entities": [
    {"entity_type": "PHONE_NUMBER", "id": "1065", "can_send_message": "AVAILABLE"},
    {"entity_type": "WABA", "id": "1022", "can_send_message": "AVAILABLE"},
]}}  # fmt: skip


def _messaging_api(mocked, *, webhook_status: int = 200) -> dict[str, str]:
    """The Messaging API the key answers point at: healthy, keeping the webhook each key sets. Returns the
    webhook URL each key set."""
    held: dict[str, str] = {}

    def set_webhook(request):
        if webhook_status != 200:
            return webhook_status, {}, "{}"
        held[request.headers["D360-API-KEY"]] = json.loads(request.body)["url"]
        return 200, {}, json.dumps({"url": held[request.headers["D360-API-KEY"]]})

    def read_back(request):
        return 200, {}, json.dumps({"url": held.get(request.headers["D360-API-KEY"])})

    mocked.get(f"{MESSAGING}/health_status", json=HEALTHY)
    mocked.add_callback(responses.POST, f"{MESSAGING}/v1/configs/webhook", callback=set_webhook)
    mocked.add_callback(responses.GET, f"{MESSAGING}/v1/configs/webhook", callback=read_back)
    return held


def _texts(app) -> list[str]:
    return [element.value for element in app.text]


def _audit(db_path) -> list[tuple[str, str]]:
    with console_db(db_path) as db:
        return [(row["action"], row["outcome"]) for row in db.query("select * from audit order by id")]


def test_empty_page(db_path, app) -> None:
    app.run()
    assert not app.exception
    assert "No channel yet" in app.info[0].value


def test_table_funnel_attention_and_filters(db_path, app) -> None:
    _channels(
        db_path,
        {"id": "aCH", "status": "running", "phone_number": "+49 1", "phone_name": "Bakery"},
        {"id": "bCH", "status": "pending", "phone_number": "+49 2", "phone_name": "[click](http://x)"},
    )
    app.run()
    assert not app.exception
    assert {metric.label: metric.value for metric in app.metric}["running"] == "1"
    table = app.dataframe[1].value  # the attention list comes first
    assert set(table["channel"]) == {"aCH", "bCH"}
    assert "running without a key" in set(app.dataframe[0].value["reason"])
    app.text_input(key="channels_search").input("bakery").run()
    assert list(app.dataframe[1].value["channel"]) == ["aCH"]
    app.text_input(key="channels_search").input("").run()
    app.selectbox(key="ch_status").select("pending").run()
    assert list(app.dataframe[1].value["channel"]) == ["bCH"]
    app.selectbox(key="channels_open").select("bCH").run()
    assert "status: pending" in _texts(app)
    assert "No key can be generated now" in " ".join(_texts(app))
    assert not app.markdown or all("click" not in element.value for element in app.markdown)


def test_generate_reveal_and_replace(db_path, app, mocked) -> None:
    mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
    webhooks = _messaging_api(mocked)
    _channels(db_path, {"id": "aCH", "status": "running", "phone_number": "+49 151 1"})
    app.run()
    assert "status: running" in _texts(app)
    app.button(key="generate-aCH").click().run()
    assert not app.exception
    assert "It is shown once" in app.success[0].value
    assert app.code[0].value == "•" * 24 + "cdef"
    # Made ready at once: checked, the number's webhook set to the demo's example address, read back.
    assert list(webhooks.values()) == ["https://messages.example.com/whatsapp/aCH"]
    assert "✅ key checked: ok — can send messages: AVAILABLE; phone number: AVAILABLE; WABA: AVAILABLE" in _texts(app)
    assert "✅ webhook read back: ok — 360dialog confirms messages go to " + webhooks[
        "secret-aCH-0123456789abcdef"
    ] in (_texts(app))
    assert app.button(key="ready-aCH").label == "Check the key of +49 151 1 again"
    app.button[0].click().run()  # Reveal key
    assert app.code[0].value == "secret-aCH-0123456789abcdef"
    assert _audit(db_path) == [
        ("generate_key", "ok"),
        ("check_key", "ok"),
        ("set_messaging_webhook", "ok"),
        ("read_back_webhook", "ok"),
        ("reveal_key", "ok"),
    ]
    assert app.button[0].label == "Hide key"

    # A second key needs the operator to confirm it revokes the first.
    assert app.button(key="generate-aCH").disabled
    app.checkbox(key="replace-aCH").check().run()
    app.button(key="generate-aCH").click().run()
    assert len([call for call in mocked.calls if "api_keys" in call.request.url]) == 2
    assert ("revoke_key", "ok") in _audit(db_path)
    app.button[1].click().run()  # I have stored it
    assert "new_key" not in app.session_state


def test_a_failed_step_is_shown_and_retried_from_there(db_path, app, mocked) -> None:
    mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
    _messaging_api(mocked, webhook_status=503)
    _channels(db_path, {"id": "aCH", "status": "running", "phone_number": "+49 151 1", "phone_name": "Bakery"})
    app.run()
    app.button(key="generate-aCH").click().run()
    assert not app.exception
    texts = _texts(app)
    assert "✅ key checked: ok — can send messages: AVAILABLE; phone number: AVAILABLE; WABA: AVAILABLE" in texts
    assert "❌ messaging webhook set: failed — The Messaging API failed (503); try again later" in texts
    assert "⏳ webhook read back: not run" in texts
    retry = app.button(key="ready-aCH")
    assert retry.label == "Run 'messaging webhook set' and the steps after it for +49 151 1 Bakery"
    app.run()
    attention = app.dataframe[0].value
    assert ("aCH", "key not ready to use", "messaging webhook set: failed") in set(
        zip(attention["channel"], attention["reason"], attention["detail"], strict=True)
    )

    mocked.remove(responses.POST, f"{MESSAGING}/v1/configs/webhook")
    mocked.remove(responses.GET, f"{MESSAGING}/v1/configs/webhook")
    mocked.remove(responses.GET, f"{MESSAGING}/health_status")
    _messaging_api(mocked)
    checks_before = len([call for call in mocked.calls if call.request.url.endswith("/health_status")])
    app.button(key="ready-aCH").click().run()
    assert not app.exception
    assert "✅ webhook read back: ok — 360dialog confirms messages go to https://messages.example.com/whatsapp/aCH" in (
        _texts(app)
    )
    # The retry started at the failed step: the key was not checked again.
    assert len([call for call in mocked.calls if call.request.url.endswith("/health_status")]) == checks_before


def test_bulk_readiness_for_keys_made_earlier(db_path, app, mocked) -> None:
    mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
    _channels(db_path, *({"id": f"r{index}CH", "status": "running"} for index in range(3)))
    app.run()
    app.button[1].click().run()  # generate for every eligible channel, while the Messaging API is down
    assert "0 key(s) ready to use" in " ".join(element.value for element in app.success)
    assert app.button(key="make-keys-ready").label == "Make 3 key(s) ready to use"
    _messaging_api(mocked)
    app.button(key="make-keys-ready").click().run()
    assert not app.exception
    assert "3 key(s) ready to use: checked, messaging webhook set and read back." in [
        element.value for element in app.success
    ]
    app.run()
    assert app.button(key="make-keys-ready").disabled
    assert app.button(key="make-keys-ready").label == "Every key is ready to use"


@pytest.mark.parametrize(
    ("response", "words"),
    [
        ({"status": 403}, "grant permission"),
        ({"status": 429, "headers": {"Retry-After": "12"}}, "retry after 12 s"),
        ({"status": 401}, "credentials"),
        ({"status": 503}, "try again later"),
        ({"body": requests.ReadTimeout("slow")}, "check key state"),
    ],
)
def test_each_failure_shows_its_own_message(db_path, app, mocked, response, words) -> None:
    mocked.post(KEY_URL, **response)
    _channels(db_path, {"id": "aCH", "status": "running"})
    app.run()
    app.button(key="generate-aCH").click().run()
    assert not app.exception
    assert words in " ".join(element.value for element in app.error)
    assert len(mocked.calls) == 1


def test_unknown_key_state_is_flagged_on_the_channel(db_path, app, mocked) -> None:
    mocked.post(KEY_URL, body=requests.ReadTimeout("slow"))
    _channels(db_path, {"id": "aCH", "status": "running"})
    app.run()
    app.button(key="generate-aCH").click().run()
    app.run()
    assert "key: ⚠️ check key state · permission: unknown" in _texts(app)
    assert any("Check key state" in element.value for element in app.warning)


def test_direct_paid_needs_permission(db_path, monkeypatch, app) -> None:
    monkeypatch.setenv("D360_DIRECT_PAID", "true")
    _channels(db_path, {"id": "aCH", "status": "running"})
    app.run()
    assert "Direct-Paid" in " ".join(_texts(app))
    assert not [button for button in app.button if button.key == "generate-aCH"]


def test_quality_drop_shows_an_alert(db_path, app) -> None:
    _channels(db_path, {"id": "aCH", "status": "running", "quality_rating": "GREEN"})
    _channels(db_path, {"id": "aCH", "quality_rating": "RED"})
    app.run()
    assert any("quality fell from GREEN to RED" in element.value for element in app.warning)


def test_sync_reports_changes(db_path, app, mocked) -> None:
    _channels(db_path, {"id": "aCH", "status": "ready"})
    mocked.get(CHANNELS, json={"partner_channels": [{"id": "aCH", "status": "running"}, {"id": "bCH"}], "total": 2})
    app.run()
    app.button[0].click().run()
    assert not app.exception
    assert "Sync done: 2 channels read, 1 new, 1 changed." in app.success[0].value


def test_sync_failure_is_a_message(db_path, app, mocked) -> None:
    mocked.get(CHANNELS, status=401)
    app.run()
    app.button[0].click().run()
    assert not app.exception
    assert "credentials" in app.error[0].value


def test_a_sync_is_recorded_as_the_operators_run(db_path, app, mocked) -> None:
    mocked.get(CHANNELS, json={"partner_channels": [{"id": "aCH", "status": "running"}], "total": 1})
    app.run()
    app.button[0].click().run()
    with console_db(db_path) as db:
        [run] = recent_runs(db)
    assert (run.trigger, run.operator, run.outcome, run.seen) == ("operator", "ops", "ok", 1)


def test_a_sync_while_another_runs_is_a_clear_message_and_calls_nobody(db_path, app, mocked) -> None:
    with console_db(db_path) as db:
        hold_lease(db)
    app.run()
    app.button[0].click().run()
    assert not app.exception
    assert app.warning[0].value.startswith("A sync is already running, started by bob at")
    assert "Try again when it ends" in app.warning[0].value
    assert len(mocked.calls) == 0
    with console_db(db_path) as db:
        assert recent_runs(db) == []


def test_a_sync_that_takes_a_channel_out_of_running_says_so(db_path, app, mocked) -> None:
    _channels(db_path, {"id": "aCH", "status": "running"})
    mocked.get(CHANNELS, json={"partner_channels": [{"id": "aCH", "status": "ready"}], "total": 1})
    app.run()
    app.button[0].click().run()
    assert not app.exception
    assert "Sync done: 1 channels read, 0 new, 1 changed, 1 left running." in app.success[0].value
    assert any(warning.value.startswith("1 channel(s) left running: aCH.") for warning in app.warning)


def test_bulk_generation_summary(db_path, app, mocked) -> None:
    def answer(request):
        if "deniedCH" in request.url:
            return 403, {}, "{}"
        return _key_answer(request)

    mocked.add_callback(responses.POST, KEY_URL, callback=answer)
    _channels(
        db_path,
        *({"id": f"c{index}CH", "status": "running"} for index in range(5)),
        {"id": "deniedCH", "status": "running"},
    )
    app.run()
    assert app.button[1].label == "Generate keys for every eligible channel"
    app.button[1].click().run()
    assert not app.exception
    assert "5 key(s) generated." in app.success[0].value
    assert "1 channel(s) got no key" in app.error[0].value
    assert list(app.dataframe[0].value["channel"]) == ["deniedCH"]
    assert app.get("download_button")[0].proto.label == "Download the 5 new keys (CSV, once)"
    # A second run before the download keeps the first run's keys too.
    mocked.remove(responses.POST, KEY_URL)
    mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)  # the client has granted it meanwhile
    _channels(db_path, {"id": "lateCH", "status": "running"})
    app.button[1].click().run()
    assert not app.exception
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels[0] == "Download the 5 new keys (CSV, once)"
    assert labels[1] == "Download the 7 new keys (CSV, once)"  # 5 earlier + deniedCH and lateCH
    app.run()
    assert [button.proto.label for button in app.get("download_button")] == [labels[1]]


@pytest.mark.parametrize("status", ["pending", "submitted", "ready", None])
def test_a_channel_that_is_not_running_offers_no_key(db_path, app, status) -> None:
    _channels(db_path, {"id": "aCH", "status": status})
    app.run()
    assert not app.exception
    assert not [button for button in app.button if button.key == "generate-aCH"]


def test_direct_paid_permission_is_asked_of_360dialog(db_path, monkeypatch, app, mocked) -> None:
    monkeypatch.setenv("D360_DIRECT_PAID", "true")
    _channels(db_path, {"id": "aCH", "status": "running", "client_id": "cliA", "phone_number": "+49 151 1"})
    with console_db(db_path) as db, db.atomic():
        db["clients"].insert({"id": "cliA", "name": "Bakery Ltd"})
    mocked.get(f"{BASE}/partners/demoPA/clients/cliA/shared_client_numbers", json={"shared_client_numbers": []})
    app.run()
    app.button(key="permission-aCH").click().run()
    assert not app.exception
    assert app.button(key="permission-aCH").label == "Ask 360dialog which numbers Bakery Ltd shared"
    assert "permission: not among the client's shared numbers" in _texts(app)

    mocked.replace(
        responses.GET,
        f"{BASE}/partners/demoPA/clients/cliA/shared_client_numbers",
        json={"shared_client_numbers": ["+49 151 1"]},
    )
    app.button(key="permission-aCH").click().run()
    assert not app.exception
    assert app.button(key="generate-aCH")
