"""A bulk key run while another writer commits back to back, as the receiver's writer does in a burst of
webhooks: every key is made and stored, none fails with "database is locked"."""

from __future__ import annotations

import re
import threading

import responses
from cryptography.fernet import Fernet

from services.channels.projection import upsert_channel
from services.keys.bulk import generate_many
from services.keys.key_status import key_status
from services.keys.vault import KeyVault
from services.store import open_console_db
from tests.support.console import console_db
from tests.support.mocked_hub import BASE, mocked_hub_client
from tests.support.people import person

KEY_URL = re.compile(rf"{BASE}/partners/pa/channels/(\w+)/api_keys")
CHANNELS = [f"busy{index}CH" for index in range(24)]
# Long enough that, without the writers' rest, a waiter polling the lock almost never finds it free.
HOLD_SECONDS = 0.05


def _greedy_writer(db_path, stop: threading.Event) -> None:
    db = open_console_db(db_path)
    try:
        while not stop.is_set():
            with db.atomic():
                db.execute("insert into audit (at, operator, action, outcome) values ('now', 'writer', 'burst', 'ok')")
                stop.wait(HOLD_SECONDS)
    finally:
        db.close()


def _key_answer(request):
    channel = KEY_URL.match(request.url).group(1)
    return 201, {}, f'{{"api_key": "secret-{channel}-0123456789abcdef", "address": "https://waba.test"}}'


def test_bulk_keys_are_stored_while_other_writers_commit_back_to_back(db_path) -> None:
    with console_db(db_path) as db, db.atomic():
        for channel_id in CHANNELS:
            upsert_channel(db, channel_id, {"status": "running"}, source="test")
    stop = threading.Event()
    writers = [threading.Thread(target=_greedy_writer, args=(db_path, stop)) for _ in range(2)]
    for writer in writers:
        writer.start()
    try:
        with responses.RequestsMock() as mocked:
            mocked.add_callback(responses.POST, KEY_URL, callback=_key_answer)
            summary = generate_many(
                lambda: open_console_db(db_path),
                mocked_hub_client(),
                KeyVault(Fernet.generate_key().decode()),
                CHANNELS,
                actor=person("ana"),
            )
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert [(outcome.channel_id, outcome.error) for outcome in summary.failed] == []
    with console_db(db_path) as db:
        assert {key_status(db, channel_id) for channel_id in CHANNELS} == {"active"}


def test_an_unexpected_failure_is_logged_by_type_and_place_never_by_its_message(db_path, monkeypatch, caplog) -> None:
    def broken(*args, **kwargs):
        raise ValueError("Zq7-a-value-that-must-not-be-logged")

    monkeypatch.setattr("services.keys.bulk.generate_key", broken)
    summary = generate_many(
        lambda: open_console_db(db_path),
        mocked_hub_client(),
        KeyVault(Fernet.generate_key().decode()),
        ["oneCH"],
        actor=person("ana"),
    )
    assert [outcome.error for outcome in summary.failed] == ["unexpected ValueError: see the log"]
    assert "ValueError" in caplog.text
    assert "broken" in caplog.text  # where it was raised
    assert "Zq7" not in caplog.text
