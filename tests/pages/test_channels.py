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
    """The console talks to the hub that `mocked` answers for, and sends keys to the address its answers name."""
    monkeypatch.setenv("D360_API_BASE_URL", BASE)
    monkeypatch.setenv("CONSOLE_MESSAGING_API_HOSTS", "*.360dialog.io waba.test")


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


def _open(app, channel_id: str):
    """The channel's own view, as a pasted link /channels?open=<id> opens it."""
    app.query_params["open"] = channel_id
    return app.run()


def _labels(app) -> list[str]:
    return [button.label for button in app.button]


def _table(app, column: str = "channel id") -> list[str]:
    """The channel list (the last table on the page)."""
    return list(app.dataframe[-1].value[column])


def _audit(db_path) -> list[tuple[str, str]]:
    with console_db(db_path) as db:
        return [(row["action"], row["outcome"]) for row in db.query("select * from audit order by id")]


def test_empty_page(db_path, app) -> None:
    app.run()
    assert not app.exception
    assert "No channel yet" in app.info[0].value


def test_names_first_in_the_table_and_the_queue(db_path, app) -> None:
    _channels(
        db_path,
        {"id": "aCH", "status": "running", "phone_number": "+49 151 1", "phone_name": "Bakery", "client_id": "cA"},
        {"id": "bCH", "status": "pending", "phone_number": "+49 151 2", "phone_name": "[click](http://x)"},
    )
    with console_db(db_path) as db, db.atomic():
        db["clients"].insert({"id": "cA", "name": "Acme Bakery Ltd"})
    app.run()
    assert not app.exception
    assert {metric.label: metric.value for metric in app.metric}["running"] == "1"
    assert app.dataframe[-1].value.columns[:3].tolist() == ["phone", "display name", "business"]
    assert set(_table(app)) == {"aCH", "bCH"}
    queue = app.dataframe[0].value
    row = queue[queue["needs"] == "running without a key"].iloc[0]
    assert (row["channel"], row["business"]) == ("+49 151 1 (Bakery)", "Acme Bakery Ltd")
    # One pill per reason, with its count, to narrow the queue.
    assert [option.content for option in app.get("button_group")[0].proto.options] == ["running without a key (1)"]
    assert not app.markdown or all("click" not in element.value for element in app.markdown)


def test_a_number_known_only_by_its_webhook_digits_is_spelled_out(db_path, app) -> None:
    # 360dialog's channel webhooks carry the number as digits; the hub's setup_info spells it out, but only a
    # sync brings that.
    _channels(db_path, {"id": "dCH", "status": "running", "phone_number": "4915112345678", "phone_name": "Deli"})
    app.run()
    assert not app.exception
    assert _table(app, "phone") == ["+49 1511 2345678"]
    queue = app.dataframe[0].value
    assert queue["channel"].tolist() == ["+49 1511 2345678 (Deli)"]


@pytest.mark.parametrize("typed", ["Acme", "bakery", "+49 151 1", "491511", "+491511", "(0049) 151-1"])
def test_search_finds_by_business_name_and_by_digits_in_any_format(db_path, app, typed) -> None:
    _channels(
        db_path,
        {"id": "aCH", "status": "running", "phone_number": "+49 151 1", "phone_name": "Bakery", "client_id": "cA"},
        {"id": "bCH", "status": "running", "phone_number": "+31 6 3439217", "phone_name": "Fietsen"},
    )
    with console_db(db_path) as db, db.atomic():
        db["clients"].insert({"id": "cA", "name": "Acme Bakery Ltd"})
    app.run()
    app.text_input(key="channels_q").input(typed.replace("(0049) ", "")).run()
    assert _table(app) == ["aCH"]
    app.text_input(key="channels_q").input("3163439217").run()
    assert _table(app) == ["bCH"]


def test_a_filter_with_no_match_says_so_and_clears(db_path, app) -> None:
    _channels(db_path, {"id": "aCH", "status": "running", "phone_number": "+49 151 1"})
    app.run()
    app.text_input(key="channels_q").input("nothing like this").run()
    assert "No channel matches these filters." in [element.value for element in app.info]
    app.button(key="clear-filters").click().run()
    assert _table(app) == ["aCH"]


def test_a_link_opens_one_channel_and_every_action_names_it(db_path, app) -> None:
    _channels(db_path, {"id": "aCH", "status": "running", "phone_number": "+34 600 111 222", "phone_name": "Cafe Olé"})
    _open(app, "aCH")
    assert not app.exception
    assert "+34 600 111 222 · Cafe Olé" in _texts(app)
    assert "Generate key for +34 600 111 222 (Cafe Olé)" in _labels(app)
    assert "Sync +34 600 111 222 (Cafe Olé) from the Partner API" in _labels(app)


def test_a_filter_that_hides_the_open_channel_closes_it(db_path, app) -> None:
    _channels(
        db_path,
        {"id": "aCH", "status": "running", "phone_number": "+34 600 333 444"},
        {"id": "bCH", "status": "running", "phone_number": "+34 600 111 222"},
    )
    _open(app, "aCH")
    assert "Generate key for +34 600 333 444" in _labels(app)
    app.text_input(key="channels_q").input("600 111 222").run()
    assert _table(app) == ["bCH"]
    assert not [label for label in _labels(app) if label.startswith("Generate key for")]
    assert "channel_open" not in app.session_state


def test_generate_reveal_and_replace(db_path, app, mocked) -> None:
    mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
    webhooks = _messaging_api(mocked)
    _channels(db_path, {"id": "aCH", "status": "running", "phone_number": "+49 151 1"})
    _open(app, "aCH")
    app.button(key="generate-aCH").click().run()
    assert not app.exception
    # The key where the click was: in the channel's own view, which a stray click cannot close now.
    assert "New API key for \\+49 151 1. It is shown once" in app.success[0].value
    assert app.code[0].value == "•" * 24 + "cdef"
    # Made ready at once: checked, the number's webhook set to the demo's example address, read back.
    assert list(webhooks.values()) == ["https://messages.example.com/whatsapp/aCH"]
    assert "✅ key checked: ok — can send messages: AVAILABLE; phone number: AVAILABLE; WABA: AVAILABLE" in _texts(app)
    assert "✅ webhook read back: ok — 360dialog confirms messages go to https://messages.example.com/whatsapp/aCH" in (
        _texts(app)
    )
    assert app.button(key="ready-aCH").label == "Check the key of +49 151 1 again"
    app.button(key="reveal-new-key").click().run()
    assert app.code[0].value == "secret-aCH-0123456789abcdef"
    assert _audit(db_path) == [
        ("generate_key", "ok"),
        ("check_key", "ok"),
        ("set_messaging_webhook", "ok"),
        ("read_back_webhook", "ok"),
        ("reveal_key", "ok"),
    ]
    assert app.button(key="hide-new-key").label == "Hide key"

    # A second key needs the operator to confirm it revokes the first.
    assert app.button(key="generate-aCH").label == "Generate a new key for +49 151 1"
    assert app.button(key="generate-aCH").disabled
    app.checkbox(key="replace-aCH").check().run()
    app.button(key="generate-aCH").click().run()
    assert len([call for call in mocked.calls if "api_keys" in call.request.url]) == 2
    assert ("revoke_key", "ok") in _audit(db_path)
    app.button(key="forget-new-key").click().run()
    assert "new_key" not in app.session_state


def test_a_failed_step_is_shown_and_retried_from_there(db_path, app, mocked) -> None:
    mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
    _messaging_api(mocked, webhook_status=503)
    _channels(db_path, {"id": "aCH", "status": "running", "phone_number": "+49 151 1", "phone_name": "Bakery"})
    _open(app, "aCH")
    app.button(key="generate-aCH").click().run()
    assert not app.exception
    texts = _texts(app)
    assert "✅ key checked: ok — can send messages: AVAILABLE; phone number: AVAILABLE; WABA: AVAILABLE" in texts
    assert "❌ messaging webhook set: failed — The Messaging API failed (503); try again later" in texts
    assert "⏳ webhook read back: not run" in texts
    retry = app.button(key="ready-aCH")
    assert retry.label == "Run 'messaging webhook set' and the steps after it for +49 151 1 (Bakery)"
    queue = app.dataframe[0].value
    assert ("+49 151 1 (Bakery)", "key not ready to use", "messaging webhook set: failed") in set(
        zip(queue["channel"], queue["needs"], queue["detail"], strict=True)
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


@pytest.mark.parametrize(
    ("response", "words"),
    [
        ({"status": 403}, "the next attempt asks again"),
        ({"status": 429, "headers": {"Retry-After": "12"}}, "retry after 12 s"),
        ({"status": 401}, "credentials"),
        ({"status": 503}, "try again later"),
        ({"body": requests.ReadTimeout("slow")}, "check key state"),
    ],
)
def test_each_failure_shows_its_own_message(db_path, app, mocked, response, words) -> None:
    mocked.post(KEY_URL, **response)
    _channels(db_path, {"id": "aCH", "status": "running"})
    _open(app, "aCH")
    app.button(key="generate-aCH").click().run()
    assert not app.exception
    assert words in " ".join(element.value for element in app.error)
    assert len(mocked.calls) == 1


def test_unknown_key_state_is_flagged_on_the_channel(db_path, app, mocked) -> None:
    mocked.post(KEY_URL, body=requests.ReadTimeout("slow"))
    _channels(db_path, {"id": "aCH", "status": "running"})
    _open(app, "aCH")
    app.button(key="generate-aCH").click().run()
    app.run()
    assert "key: ⚠️ check key state · permission: unknown" in _texts(app)
    assert any("Check key state" in element.value for element in app.warning)
    queue = app.dataframe[0].value
    # One vocabulary: the queue says what the key filter and the channel's view say.
    assert "check key state" in set(queue["needs"])
    assert app.selectbox(key="key").format_func("unknown") == "⚠️ check key state"


def test_direct_paid_needs_permission(db_path, monkeypatch, app) -> None:
    monkeypatch.setenv("D360_DIRECT_PAID", "true")
    _channels(db_path, {"id": "aCH", "status": "running"})
    _open(app, "aCH")
    assert "Direct-Paid" in " ".join(_texts(app))
    assert not [button for button in app.button if button.key == "generate-aCH"]


def test_quality_drop_shows_an_alert(db_path, app) -> None:
    _channels(db_path, {"id": "aCH", "status": "running", "quality_rating": "GREEN"})
    _channels(db_path, {"id": "aCH", "quality_rating": "RED"})
    _open(app, "aCH")
    assert any("quality fell from GREEN to RED" in element.value for element in app.warning)


def test_sync_reports_changes(db_path, app, mocked) -> None:
    _channels(db_path, {"id": "aCH", "status": "ready"})
    mocked.get(CHANNELS, json={"partner_channels": [{"id": "aCH", "status": "running"}, {"id": "bCH"}], "total": 2})
    app.run()
    app.button[0].click().run()
    assert not app.exception
    assert "Sync done: 2 channels read, 1 new, 1 changed." in app.success[0].value


def test_one_channel_is_synced_from_its_view(db_path, app, mocked) -> None:
    _channels(db_path, {"id": "aCH", "status": "ready", "phone_number": "+49 151 1"})
    mocked.get(CHANNELS, json={"partner_channels": [{"id": "aCH", "status": "running"}], "total": 1})
    _open(app, "aCH")
    app.button(key="sync-aCH").click().run()
    assert not app.exception
    assert "status: running · quality - · limit -" in _texts(app)
    assert '"id":"aCH"' in mocked.calls[0].request.url.replace("%22", '"').replace("%3A", ":")


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
    assert (run.trigger, run.operator, run.outcome, run.seen) == ("operator", "demo", "ok", 1)


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


def test_bulk_generation_is_confirmed_then_reported_with_a_retry(db_path, app, mocked) -> None:
    denied = {"deniedCH"}

    def answer(request):
        if any(channel in request.url for channel in denied):
            return 403, {}, "{}"
        return _key_answer(request)

    mocked.add_callback(responses.POST, KEY_URL, callback=answer)
    _channels(
        db_path,
        *({"id": f"c{index}CH", "status": "running", "phone_number": f"+49 151 {index}"} for index in range(5)),
        {"id": "deniedCH", "status": "running", "phone_number": "+49 151 99", "phone_name": "Late Cafe"},
    )
    app.run()
    assert app.button(key="bulk-open").label == "Generate keys for 6 eligible channels"
    app.button(key="bulk-open").click().run()
    assert not app.exception
    # Nothing is made before the operator confirms the count and what a key does.
    assert [call for call in mocked.calls if "api_keys" in call.request.url] == []
    assert "This makes 6 keys" in app.markdown[-1].value or any("This makes 6 keys" in m.value for m in app.markdown)
    app.button(key="bulk-confirm").click().run()
    assert not app.exception
    assert "5 keys generated." in [element.value for element in app.success]
    assert "1 channel got no key; the reason for each is below." in [element.value for element in app.error]
    failures = next(table for table in app.dataframe if "reason" in table.value.columns).value
    assert list(failures["channel"]) == ["+49 151 99 (Late Cafe)"]
    assert app.get("download_button")[-1].proto.label == "Download the 5 new keys (CSV, once)"

    denied.clear()  # the client has granted it meanwhile
    app.button(key="bulk-retry").click().run()
    assert not app.exception
    assert app.get("download_button")[-1].proto.label == "Download the 6 new keys (CSV, once)"
    assert "bulk-retry" not in [button.key for button in app.button]


def test_bulk_readiness_for_keys_made_earlier(db_path, app, mocked) -> None:
    mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
    _channels(db_path, *({"id": f"r{index}CH", "status": "running"} for index in range(3)))
    app.run()
    app.button(key="bulk-open").click().run()
    app.button(key="bulk-confirm").click().run()  # while the Messaging API is down
    assert "0 keys ready to use: checked, messaging webhook set and read back." in [e.value for e in app.success]
    assert app.button(key="make-keys-ready").label == "Make 3 keys ready to use"
    _messaging_api(mocked)
    app.button(key="make-keys-ready").click().run()
    assert not app.exception
    assert "3 keys ready to use: checked, messaging webhook set and read back." in [e.value for e in app.success]
    app.run()
    # Nothing left to do is a status, not a disabled button.
    assert "make-keys-ready" not in [button.key for button in app.button]
    assert any("Every key is ready to use" in caption.value for caption in app.caption)


@pytest.mark.parametrize("status", ["pending", "submitted", "ready", None])
def test_a_channel_that_is_not_running_offers_no_key(db_path, app, status) -> None:
    _channels(db_path, {"id": "aCH", "status": status} if status else {"id": "aCH", "phone_number": "+49 1"})
    _open(app, "aCH")
    assert not app.exception
    assert not [button for button in app.button if button.key == "generate-aCH"]
    assert "No key can be generated now" in " ".join(_texts(app))


def test_direct_paid_permission_is_asked_of_360dialog(db_path, monkeypatch, app, mocked) -> None:
    monkeypatch.setenv("D360_DIRECT_PAID", "true")
    _channels(db_path, {"id": "aCH", "status": "running", "client_id": "cliA", "phone_number": "+49 151 1"})
    with console_db(db_path) as db, db.atomic():
        db["clients"].insert({"id": "cliA", "name": "Bakery Ltd"})
    mocked.get(f"{BASE}/partners/demoPA/clients/cliA/shared_client_numbers", json={"shared_client_numbers": []})
    _open(app, "aCH")
    assert app.button(key="permission-aCH").label == "Ask 360dialog which numbers Bakery Ltd shared"
    app.button(key="permission-aCH").click().run()
    assert not app.exception
    assert "permission: not among the client's shared numbers" in _texts(app)

    mocked.replace(
        responses.GET,
        f"{BASE}/partners/demoPA/clients/cliA/shared_client_numbers",
        json={"shared_client_numbers": ["+49 151 1"]},
    )
    app.button(key="permission-aCH").click().run()
    assert not app.exception
    assert app.button(key="generate-aCH")


def test_the_list_downloads_as_csv_with_its_filters(db_path, app) -> None:
    _channels(
        db_path,
        {"id": "aCH", "status": "running", "phone_number": "+49 151 1", "phone_name": "=HYPERLINK(1)"},
        {"id": "bCH", "status": "pending", "phone_number": "+49 151 2"},
    )
    app.run()
    app.selectbox(key="status").select("running").run()
    assert app.get("download_button")[0].proto.label == "Download this list (CSV)"


def test_a_link_to_another_channel_opens_that_one(db_path, app) -> None:
    _channels(
        db_path,
        {"id": "aCH", "status": "running", "phone_number": "+34 600 333 444"},
        {"id": "bCH", "status": "running", "phone_number": "+34 600 111 222"},
    )
    _open(app, "aCH")
    assert "Generate key for +34 600 333 444" in _labels(app)
    _open(app, "bCH")  # a link pasted later, with the first channel still remembered by the session
    assert "Generate key for +34 600 111 222" in _labels(app)
    assert "Generate key for +34 600 333 444" not in _labels(app)
