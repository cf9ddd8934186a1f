"""Key answers in the shapes 360dialog sends: every answer that holds a key is stored, whatever else it lacks."""

from __future__ import annotations

import json

import pytest
import responses
from cryptography.fernet import Fernet

from services.keys.generation import generate_key
from services.keys.key_status import key_status
from services.keys.vault import KeyVault
from tests.support import FIXTURES
from tests.support.people import person

RECORDED = json.loads((FIXTURES / "360dialog" / "key_answers.json").read_text())


@pytest.mark.parametrize("recorded", RECORDED, ids=[item["name"] for item in RECORDED])
@responses.activate
def test_the_client_reads_every_recorded_key_answer(api, recorded: dict) -> None:
    responses.post(
        f"{api.base_url}/partners/pa/channels/chA1/api_keys", json=recorded["body"], status=recorded["status"]
    )
    key = api.generate_api_key("chA1")
    body = recorded["body"].get("api_keys", [recorded["body"]])[0]
    assert key.api_key == body["api_key"]
    assert (key.address, key.app_id, key.key_id) == tuple(
        recorded["expect"][name] for name in ("address", "app_id", "key_id")
    )


@responses.activate
def test_a_key_that_came_alone_is_stored_not_thrown_away(db, api) -> None:
    vault = KeyVault(Fernet.generate_key().decode())
    # The old behaviour: no address, so the answer counted as unreadable, after 360dialog had made the key.
    key_alone = next(item for item in RECORDED if item["name"] == "an answer with the key alone")
    with db.atomic():
        db["channels"].insert({"id": "chA1", "client_id": "cliX", "status": "running", "revoked": 0})
    responses.post(f"{api.base_url}/partners/pa/channels/chA1/api_keys", json=key_alone["body"], status=200)
    result = generate_key(db, api, vault, "chA1", actor=person("ana"))
    assert result.api_key == key_alone["body"]["api_key"]
    assert result.address == "https://waba-v2.360dialog.io"
    assert key_status(db, "chA1") == "active"
    row = next(db["api_keys"].rows_where("channel_id = 'chA1' and outcome = 'ok'"))
    assert key_alone["body"]["api_key"] not in json.dumps(row)
    assert vault.open(row["key_encrypted"]) == key_alone["body"]["api_key"]
