"""A key goes only to 360dialog: the key answer's `address` must be https on a host CONSOLE_MESSAGING_API_HOSTS
allows (this machine only in demo mode). Otherwise the key is stored and its follow-through stops, naming the
host, on every path that sends a key: one generation, bulk, a retry from a later step, and the "check the key
again" button's run. Real HTTP on loopback: a Partner API whose key answer names an address, and a server there
that records whatever reaches it."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace

import pytest
import responses
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from services.channels.projection import upsert_channel
from services.keys.bulk import generate_many, prepare_many
from services.keys.generation import generate_key
from services.keys.readiness import NOT_RUN, ReadinessConfig, key_readiness, prepare_key
from services.keys.vault import KeyVault
from services.partner_api import PartnerApi
from services.store import open_console_db
from tests.support.console import console_db
from tests.support.mocked_hub import BASE
from tests.support.pages import close_session_db, page_app
from tests.support.people import person
from tests.support.sandbox_hub import start_hub
from tests.support.servers import free_port, serving, wait_for

KEY = "Hx4destinationKeyUnderTest5521"
HOOK_SECRET = "hook-header-secret-value-77"
TEMPLATE = "https://hooks.example.org/whatsapp/{channel_id}"
# Live mode: what ReadinessConfig.from_settings gives outside demo mode with the default hosts.
LIVE = ReadinessConfig(TEMPLATE, {"X-Hook-Token": HOOK_SECRET}, timeout=2)


@dataclass
class Recorder:
    """Any request to any path, recorded with its headers and body."""

    received: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def anything(request: Request) -> JSONResponse:
            with self.lock:
                self.received.append((request.method, request.url.path, dict(request.headers), await request.body()))
            # What a Messaging API would answer, so an old client would go on to the next step.
            return JSONResponse({"health_status": {"can_send_message": "AVAILABLE"}, "url": TEMPLATE})

        return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST", "PUT", "DELETE"])])


@dataclass
class KeyAnswers:
    """A Partner API whose key answer names `address`, with a fresh key each time."""

    address: str = ""
    made: int = 0

    def app(self) -> Starlette:
        async def generate(request: Request) -> JSONResponse:
            self.made += 1
            key = f"{KEY}{self.made}"
            return JSONResponse({"id": f"k{self.made}", "address": self.address, "api_key": key}, status_code=201)

        path = "/api/v2/partners/{partner}/channels/{channel}/api_keys"
        return Starlette(routes=[Route(path, generate, methods=["POST"])])


@dataclass
class Rig:
    answers: KeyAnswers
    partner_api: PartnerApi
    recorder: Recorder
    recorder_url: str


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    answers, recorder = KeyAnswers(), Recorder()
    with ExitStack() as stack:
        api_url = stack.enter_context(serving(answers.app(), free_port()))
        recorder_url = stack.enter_context(serving(recorder.app(), free_port()))
        partner_api = PartnerApi(f"{api_url}/api/v2", "pa", api_key="partner-key-123456", timeout=5, require_https=True)
        stack.callback(partner_api.close)
        yield Rig(answers, partner_api, recorder, recorder_url)


@pytest.fixture
def vault() -> KeyVault:
    return KeyVault(Fernet.generate_key().decode())


def _running(db, *channel_ids: str) -> None:
    with db.atomic():
        for channel_id in channel_ids:
            upsert_channel(db, channel_id, {"status": "running", "client_id": "cliD"}, source="test")


def _steps(db, channel_id: str) -> dict[str, tuple[str, str]]:
    return {state.step: (state.status, state.detail) for state in key_readiness(db, channel_id)}


def _stored_key(db, vault: KeyVault, channel_id: str) -> str:
    row = next(
        db.query("select key_encrypted, status from api_keys where channel_id = ? and outcome = 'ok'", [channel_id])
    )
    assert row["status"] == "active"
    return vault.open(row["key_encrypted"])


def _assert_nothing_leaked(db, rig: Rig) -> None:
    assert rig.recorder.received == [], "the key answer's address received a request"
    dump = json.dumps([list(db[table].rows) for table in ("key_steps", "audit")])
    assert KEY not in dump
    assert HOOK_SECRET not in dump


@pytest.mark.processes
def test_a_key_answer_pointing_at_this_machine_in_live_mode_is_stored_and_not_followed(db, rig, vault) -> None:
    """The issue's reproduction: `"address": "http://127.0.0.1:18601"` received the key and the hook's secret."""
    rig.answers.address = rig.recorder_url
    _running(db, "chLive1")

    result = generate_key(db, rig.partner_api, vault, "chLive1", actor=person("ana"))
    states = prepare_key(db, vault, "chLive1", LIVE, actor=person("ana"))

    assert _stored_key(db, vault, "chLive1") == result.api_key  # minted, so kept
    assert [state.status for state in states] == ["failed", NOT_RUN, NOT_RUN]
    assert states[0].detail.startswith("The key was not sent: ")
    assert "this machine (127.0.0.1)" in states[0].detail
    _assert_nothing_leaked(db, rig)

    # Retrying a later step, and "check the key again", refuse the same way.
    prepare_key(db, vault, "chLive1", LIVE, actor=person("bo"), start_at="set_webhook")
    prepare_key(db, vault, "chLive1", LIVE, actor=person("bo"), start_at=None)
    assert _steps(db, "chLive1")["set_webhook"][0] == "failed"
    assert "not sent" in _steps(db, "chLive1")["set_webhook"][1]
    _assert_nothing_leaked(db, rig)


@pytest.mark.processes
def test_bulk_generation_and_bulk_follow_through_refuse_the_same_address(db_path, rig, vault) -> None:
    rig.answers.address = rig.recorder_url
    channels = ["chBulk1", "chBulk2", "chBulk3"]
    with console_db(db_path) as db:
        _running(db, *channels)

    made = generate_many(
        lambda: open_console_db(db_path), rig.partner_api, vault, channels, actor=person("ana"), readiness=LIVE
    )
    again = prepare_many(lambda: open_console_db(db_path), vault, channels, LIVE, actor=person("bo"))

    assert len(made.succeeded) == 3
    assert len(made.not_ready) == 3
    assert len(again.not_ready) == 3
    assert {outcome.readiness[0].status for outcome in [*made.outcomes, *again.outcomes]} == {"failed"}
    with console_db(db_path) as db:
        for channel_id in channels:
            _stored_key(db, vault, channel_id)
        _assert_nothing_leaked(db, rig)


TRICK_ADDRESSES = [
    "https://evil.example",
    "https://waba-v2.360dialog.io.evil.example",
    "https://evil.example#.360dialog.io",
    "https://user@evil.example",
    "https://waba-v2.360dialog.io@evil.example",
    "https://360dialog.io.evil",
    "https://waba-v2%2e360dialog.io.evil.example",
    "https://WABA-V2.360DIALOG.IO.EVIL.EXAMPLE",
    "https://waba-v2.360dialog.io.",
    "https://waba-v2.360dialog.io:8443",
]


@pytest.mark.processes
@pytest.mark.parametrize("address", TRICK_ADDRESSES)
def test_a_key_answer_naming_another_https_host_is_stored_and_not_followed(db, rig, vault, address: str) -> None:
    rig.answers.address = address
    _running(db, "chTrick")
    generate_key(db, rig.partner_api, vault, "chTrick", actor=person("ana"))

    with responses.RequestsMock(assert_all_requests_are_fired=False) as network:
        network.add(responses.GET, re.compile(".*"), json={"health_status": {"can_send_message": "AVAILABLE"}})
        network.add(responses.POST, re.compile(".*"), json={"url": TEMPLATE})
        states = prepare_key(db, vault, "chTrick", LIVE, actor=person("ana"))
        assert list(network.calls) == [], "a request left with the key"

    _stored_key(db, vault, "chTrick")
    assert [state.status for state in states] == ["failed", NOT_RUN, NOT_RUN]
    assert states[0].detail.startswith("The key was not sent: its Messaging API address ")
    assert KEY not in states[0].detail


@pytest.mark.processes
def test_the_refusal_names_the_host_and_what_to_do(db, rig, vault) -> None:
    rig.answers.address = "https://messaging.evil.example/v2"
    _running(db, "chNamed")
    generate_key(db, rig.partner_api, vault, "chNamed", actor=person("ana"))
    [state, *_] = prepare_key(db, vault, "chNamed", LIVE, actor=person("ana"))
    assert state.detail == (
        "The key was not sent: its Messaging API address names messaging.evil.example, "
        "a host CONSOLE_MESSAGING_API_HOSTS does not allow"
    )
    [audit] = db.query("select action, outcome, detail from audit where action = 'check_key'")
    assert (audit["outcome"], audit["detail"]) == ("failed", state.detail)


@pytest.mark.processes
def test_an_allowed_host_on_the_settings_list_is_followed(db, rig, vault) -> None:
    rig.answers.address = "https://messaging.partner-proxy.example"
    _running(db, "chAllowed")
    generate_key(db, rig.partner_api, vault, "chAllowed", actor=person("ana"))
    config = ReadinessConfig(None, allowed_hosts=("*.360dialog.io", "messaging.partner-proxy.example"), timeout=2)
    with responses.RequestsMock() as network:
        network.get(
            "https://messaging.partner-proxy.example/health_status",
            json={"health_status": {"can_send_message": "AVAILABLE"}},
        )
        states = prepare_key(db, vault, "chAllowed", config, actor=person("ana"))
        assert network.calls[0].request.headers["D360-API-KEY"].startswith(KEY)
    assert states[0].status == "ok"


@pytest.mark.processes
def test_the_sandbox_address_still_works_in_demo_mode(tmp_path, db, vault) -> None:
    """Demo settings allow this machine: the whole chain runs against the hub the key answer names."""
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub")
        channel_id = hub.sandbox.onboard("Destination Cafe", ["+49 151 7654000"])["channel_ids"][0]
        api = hub.api()
        stack.callback(api.close)
        wait_for(lambda: api.list_channels(filters={"id": channel_id})["partner_channels"][0]["status"] == "running")
        _running(db, channel_id)
        key = generate_key(db, api, vault, channel_id, actor=person("ana"))
        config = ReadinessConfig.from_settings(hub.settings)

        states = prepare_key(db, vault, channel_id, config, actor=person("ana"))

    assert key.address.startswith("http://127.0.0.1:")
    assert config.demo_mode
    assert [state.status for state in states] == ["ok", "ok", "ok"]


@pytest.mark.processes
def test_a_redirect_from_an_allowed_address_is_not_followed_with_the_key(db, rig, vault) -> None:
    """Demo mode, so this machine is allowed: the address answers 307 to the recorder, which gets nothing."""

    async def redirect(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{rig.recorder_url}/steal{request.url.path}", status_code=307)

    redirector = Starlette(routes=[Route("/{path:path}", redirect, methods=["GET", "POST"])])
    with serving(redirector, free_port()) as redirector_url:
        rig.answers.address = redirector_url
        _running(db, "chRedirected")
        generate_key(db, rig.partner_api, vault, "chRedirected", actor=person("ana"))
        config = replace(LIVE, demo_mode=True)
        states = prepare_key(db, vault, "chRedirected", config, actor=person("ana"))
        prepare_key(db, vault, "chRedirected", config, actor=person("ana"), start_at="set_webhook")

    assert states[0].status == "failed"
    assert "not followed with the key" in states[0].detail
    assert _steps(db, "chRedirected")["set_webhook"][0] == "failed"
    _assert_nothing_leaked(db, rig)


def test_the_channel_view_shows_the_key_made_and_the_host_refused(demo, db_path, monkeypatch) -> None:
    monkeypatch.setenv("D360_API_BASE_URL", BASE)
    with console_db(db_path) as db, db.atomic():
        upsert_channel(db, "viewCH", {"status": "running", "phone_number": "+49 151 3"}, source="test")
    app = page_app("channels.py")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        answer = {"api_key": f"{KEY}view", "address": "https://waba-v2.360dialog.io.evil.example"}
        mocked.add(
            responses.POST, re.compile(rf"{BASE}/partners/demoPA/channels/viewCH/api_keys"), json=answer, status=201
        )
        app.query_params["open"] = "viewCH"
        app.run()
        app.button(key="generate-viewCH").click().run()
        assert [call.request.url for call in mocked.calls if "evil" in call.request.url] == []
    close_session_db(app)

    assert not app.exception
    assert app.code[0].value == "•" * 24 + "view"  # shown once, masked: the key was made and kept
    texts = [element.value for element in app.text]
    assert (
        "❌ key checked: failed — The key was not sent: its Messaging API address names "
        "waba-v2.360dialog.io.evil.example, a host CONSOLE_MESSAGING_API_HOSTS does not allow"
    ) in texts
    assert "⏳ messaging webhook set: not run" in texts
