"""Crashes lose nothing that was acknowledged, and an interrupted key generation is marked for checking.

1. The receiver is SIGKILLed under concurrent load and restarted: every event it answered 2xx is stored.
2. A key generation whose request reached the Partner API but whose answer never came (timeout, dropped
   connection, the run interrupted, the process killed) leaves the attempt and its audit entry 'unknown'
   and writes nothing else.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import requests
from sqlite_utils import Database

from services.keys.generation import KeyNotAllowed, generate_key, recover_abandoned_attempts
from services.keys.key_status import key_status
from services.keys.vault import KeyVault
from services.partner_api import PartnerApi, PartnerApiError
from tests.support import ROOT
from tests.support.console import console_db
from tests.support.pages import close_session_db, console_app
from tests.support.people import person
from tests.support.receiver import STORED_KEYS_SQL, ReceiverProcess, start_receiver, wait_until_listed

pytestmark = pytest.mark.processes

SENDERS = 6
KILL_ROUNDS = 3
ACKS_BEFORE_KILL = 60


# -- 1. the receiver killed under load -----------------------------------------------------------------


class Sender(threading.Thread):
    """Posts signed, unique events until the receiver stops answering; remembers which were acknowledged."""

    def __init__(self, receiver: ReceiverProcess, name: str) -> None:
        super().__init__(daemon=True)
        self.receiver = receiver
        self.prefix = name
        self.acknowledged: list[str] = []
        self.refused: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with requests.Session() as session:
            number = 0
            while not self.stop.is_set():
                number += 1
                event_id = f"{self.prefix}-{number}"
                body = json.dumps(
                    {"id": event_id, "event": "channel_created", "data": {"id": f"{self.prefix}CH", "status": "x"}}
                ).encode()
                try:
                    response = session.post(
                        self.receiver.webhook_url,
                        data=body,
                        headers={"x-360dialog-signature": self.receiver.sign(body)},
                        timeout=10,
                    )
                except requests.RequestException:
                    return  # the receiver is gone: this event was never acknowledged
                if 200 <= response.status_code < 300:
                    self.acknowledged.append(event_id)
                else:
                    self.refused.append(response.status_code)


def stored_ids(db_path: Path) -> set[str]:
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        return {key.removeprefix("id:") for (key,) in db.execute(STORED_KEYS_SQL)}
    finally:
        db.close()


@pytest.mark.timeout(600)
def test_every_acknowledged_event_survives_sigkill(tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    acknowledged: set[str] = set()
    for round_number in range(KILL_ROUNDS):
        receiver = start_receiver(tmp_path, secret)
        senders = [Sender(receiver, f"r{round_number}s{index}") for index in range(SENDERS)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 120
        while sum(len(s.acknowledged) for s in senders) < ACKS_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.05)
        # Killed while the senders are mid-request: some requests are in flight, unanswered.
        receiver.kill()
        for sender in senders:
            sender.stop.set()
            sender.join(timeout=30)
        for sender in senders:
            assert not sender.refused, f"the receiver refused events under load: {sender.refused[:5]}"
            acknowledged.update(sender.acknowledged)
        assert len(acknowledged) >= ACKS_BEFORE_KILL * (round_number + 1)

    # Restarted on the same data: it comes up, and every acknowledged event is there.
    receiver = start_receiver(tmp_path, secret)
    try:
        assert receiver.healthy()
        missing = acknowledged - stored_ids(receiver.db_path)
        assert not missing, f"{len(missing)} acknowledged events were lost, e.g. {sorted(missing)[:5]}"
        # And listed, whichever writer indexed it (one that loses its receiver lists all it has, then exits).
        wait_until_listed(receiver.db_path, timeout=60)
        with closing(sqlite3.connect(receiver.db_path)) as db:
            listed = [key.removeprefix("id:") for (key,) in db.execute("select dedupe_key from events")]
        assert acknowledged <= set(listed)
    finally:
        # uvicorn re-raises the SIGTERM it handled, so a clean stop ends with -SIGTERM.
        assert receiver.stop() in (0, -signal.SIGTERM)
    print(f"\n{len(acknowledged)} acknowledged events across {KILL_ROUNDS} SIGKILLs, none lost")


# -- 2. a key generation interrupted after the request was sent ---------------------------------------


class SilentPartnerApi:
    """A Partner API stand-in that reads each request and then either never answers or hangs up."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.received = threading.Event()
        self.release = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    def _serve(self) -> None:
        while not self.release.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                self.received.set()
                if self.behaviour == "hang":
                    self.release.wait(60)

    def close(self) -> None:
        self.release.set()
        self._server.close()
        self._thread.join(timeout=10)


@contextmanager
def silent_partner_api(behaviour: str) -> Iterator[SilentPartnerApi]:
    server = SilentPartnerApi(behaviour)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def channels_db(db: Database) -> Database:
    """The console database with two running channels, runCH and otherCH."""
    with db.atomic():
        db["channels"].insert({"id": "runCH", "client_id": "cliCL", "status": "running", "revoked": 0})
        db["channels"].insert({"id": "otherCH", "client_id": "cliCL", "status": "running", "revoked": 0})
    return db


def snapshot(db: Database) -> dict[str, list[dict]]:
    return {table: list(db[table].rows) for table in db.table_names() if table != "_sqlite_migrations"}


def assert_only_the_attempt_changed(db: Database, before: dict[str, list[dict]]) -> None:
    """One api_keys row and one audit row, both 'unknown', with no key material; nothing else moved (but the
    list of channels wanting a key, which follows api_keys)."""
    after = snapshot(db)
    for table in after:
        if table not in {"api_keys", "audit", "channels_wanting_key", "channels_wanting_key_counts"}:
            assert after[table] == before.get(table, []), f"{table} changed"
    [attempt] = [row for row in after["api_keys"] if row not in before.get("api_keys", [])]
    assert attempt["channel_id"] == "runCH"
    assert attempt["outcome"] == "unknown"
    assert attempt["key_encrypted"] is None
    assert attempt["key_last4"] is None
    assert attempt["status"] is None
    [entry] = [row for row in after["audit"] if row not in before.get("audit", [])]
    assert (entry["action"], entry["channel_id"], entry["outcome"], entry["operator"]) == (
        "generate_key",
        "runCH",
        "unknown",
        "alice",
    )
    assert key_status(db, "runCH") == "unknown"
    assert key_status(db, "otherCH") == "none"


def vault() -> KeyVault:
    from cryptography.fernet import Fernet

    return KeyVault(Fernet.generate_key().decode())


@pytest.mark.parametrize("behaviour", ["hang", "hang-up"])
def test_no_answer_marks_the_key_unknown(channels_db: Database, behaviour: str) -> None:
    before = snapshot(channels_db)
    with silent_partner_api(behaviour) as server:
        api = PartnerApi(server.base_url, "demoPA", api_key=secrets.token_urlsafe(24), timeout=1.0)
        with pytest.raises(PartnerApiError) as caught:
            generate_key(channels_db, api, vault(), "runCH", actor=person("alice"))
        api.close()
        assert caught.value.may_have_reached_server
        # Never retried: a second POST would revoke the key the first one may have made.
        assert len(server.requests) == 1
        assert server.requests[0].startswith(b"POST /api/v2/partners/demoPA/channels/runCH/api_keys ")
    assert_only_the_attempt_changed(channels_db, before)


class Interrupted(BaseException):
    """What Streamlit raises in a script thread when the user stops or reruns it (a BaseException)."""


def test_an_interrupted_run_marks_the_key_unknown(channels_db: Database) -> None:
    before = snapshot(channels_db)
    previous = signal.getsignal(signal.SIGALRM)

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    with silent_partner_api("hang") as server:
        api = PartnerApi(server.base_url, "demoPA", api_key=secrets.token_urlsafe(24), timeout=30)
        signal.signal(signal.SIGALRM, interrupt)
        try:
            # Fires while the request waits for its answer (the server has it by then).
            signal.setitimer(signal.ITIMER_REAL, 1.0)
            with pytest.raises(Interrupted):
                generate_key(channels_db, api, vault(), "runCH", actor=person("alice"))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            api.close()
        assert server.received.is_set()
        assert len(server.requests) == 1
    assert_only_the_attempt_changed(channels_db, before)


def test_an_earlier_active_key_does_not_hide_the_unknown_attempt(channels_db: Database) -> None:
    with channels_db.atomic():
        channels_db["api_keys"].insert(
            {
                "channel_id": "runCH",
                "operator": "bob",
                "created_at": "2026-01-01T00:00:00+00:00",
                "outcome": "ok",
                "status": "active",
                "key_encrypted": "sealed",
                "key_last4": "abcd",
            }
        )
    assert key_status(channels_db, "runCH") == "active"
    before = snapshot(channels_db)
    with silent_partner_api("hang-up") as server:
        api = PartnerApi(server.base_url, "demoPA", api_key=secrets.token_urlsafe(24), timeout=1.0)
        with pytest.raises(PartnerApiError):
            generate_key(channels_db, api, vault(), "runCH", actor=person("alice"), replace_existing=True)
        api.close()
    assert_only_the_attempt_changed(channels_db, before)


GENERATE_IN_CHILD = """
import sys
from services.keys.generation import generate_key
from services.partner_api import PartnerApi
from services.store import open_console_db
from services.keys.vault import KeyVault
from tests.support.people import person
db = open_console_db(sys.argv[1])
api = PartnerApi(sys.argv[2], "demoPA", api_key="k" * 32, timeout=60)
generate_key(db, api, KeyVault(sys.argv[3]), "runCH", actor=person("alice"))
"""


def generate_in_child(db_path: Path, api_url: str) -> subprocess.Popen:
    """A second console process generating a key for runCH: it can be killed while the request is out."""
    from cryptography.fernet import Fernet

    command = [sys.executable, "-c", GENERATE_IN_CHILD, str(db_path), api_url, Fernet.generate_key().decode()]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ})


def test_a_killed_process_leaves_the_key_unknown(channels_db: Database, db_path: Path) -> None:
    with silent_partner_api("hang") as server:
        child = generate_in_child(db_path, server.base_url)
        try:
            assert server.received.wait(60)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    # A new console process (the dashboard restarted) opens the database and looks at the channel.
    with console_db(db_path) as db:
        assert recover_abandoned_attempts(db) == 1
        assert key_status(db, "runCH") == "unknown"
        assert [row["outcome"] for row in db["audit"].rows] == ["unknown"]


def test_the_channels_page_says_the_key_must_be_checked(channels_db: Database, demo: Path) -> None:
    with silent_partner_api("hang-up") as server:
        api = PartnerApi(server.base_url, "demoPA", api_key=secrets.token_urlsafe(24), timeout=1.0)
        with pytest.raises(PartnerApiError):
            generate_key(channels_db, api, vault(), "runCH", actor=person("alice"))
        api.close()
    at = console_app().run()
    at.switch_page("../pages/channels.py").run()
    close_session_db(at)
    assert not at.exception
    # The work queue, then the channel list: runCH's row in each says its key must be checked, not what else.
    work_queue, channel_list = (table.value.to_dict("records") for table in at.dataframe)
    assert [
        (row["channel"], row["needs"], row["what to do"]) for row in work_queue if row["channel"] == "channel runCH"
    ] == [("channel runCH", "check key state", "ask 360dialog or test the key before generating again")]
    assert {row["channel id"]: row["key"] for row in channel_list} == {
        "runCH": "⚠️ check key state",
        "otherCH": "no key",
    }


def test_a_generation_in_progress_is_not_taken_for_abandoned(channels_db: Database, db_path: Path) -> None:
    with silent_partner_api("hang") as server:
        child = generate_in_child(db_path, server.base_url)
        try:
            assert server.received.wait(60)
            # The child is alive and waiting for 360dialog: its attempt is in progress, not abandoned.
            assert recover_abandoned_attempts(channels_db) == 0
            assert key_status(channels_db, "runCH") == "pending"
            with pytest.raises(KeyNotAllowed, match="already being generated"):
                generate_key(
                    channels_db,
                    PartnerApi(server.base_url, "demoPA", api_key="k" * 32),
                    vault(),
                    "runCH",
                    actor=person("bob"),
                )
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    assert recover_abandoned_attempts(channels_db) == 1
    assert key_status(channels_db, "runCH") == "unknown"
