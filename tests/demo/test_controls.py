"""The console's side of the demo: storing the hub's redirects, and the reset."""

from __future__ import annotations

import pytest
import responses
from sqlite_utils import Database

from services import audit
from services.accounts import demo_person
from services.channels.projection import get_channel
from services.demo.controls import console_tables, reset_console, store_redirect_query
from services.events.webhook import parse_webhook_body
from services.onboarding.redirect_params import InvalidRedirect
from services.partner_api import PartnerApi
from tests.support.events import save_events


def _hub_lists(api: PartnerApi, client_id: str, *channel_ids: str) -> None:
    channels = [{"id": channel_id, "client_id": client_id, "status": "running"} for channel_id in channel_ids]
    responses.get(
        f"{api.base_url}/partners/{api.partner_id}/channels",
        json={"count": len(channels), "total": len(channels), "partner_channels": channels},
    )


@responses.activate
def test_a_revocation_redirect_marks_the_channel_revoked_once_the_hub_confirms_it(db: Database, api) -> None:
    _hub_lists(api, "aCL", "keepCH", "goneCH")
    stored = store_redirect_query(db, "client=aCL&channels=[keepCH]&revoked=[goneCH]", api, actor=demo_person())
    assert (stored.is_new, stored.verdict) == (True, "applied_operator")
    assert get_channel(db, "goneCH")["revoked"] == 1
    assert get_channel(db, "keepCH")["permission"] == "granted"
    assert (
        store_redirect_query(db, "client=aCL&channels=[keepCH]&revoked=[goneCH]", api, actor=demo_person()).is_new
        is False
    )
    assert db["redirects"].count == 1


def test_a_bad_redirect_is_kept_raw_and_refused(db: Database, api) -> None:
    with pytest.raises(InvalidRedirect):
        store_redirect_query(db, "client=a<b>CL&channels=[]", api, actor=demo_person())
    assert [row["raw_query"] for row in db["redirects"].rows] == ["client=a<b>CL&channels=[]"]


@responses.activate
def test_reset_console_empties_every_table_but_keeps_the_schema(db: Database, api) -> None:
    save_events(
        db,
        parse_webhook_body(b'{"id":"e1","event":"channel_created","data":{"id":"xCH","client_id":"xCL"}}'),
        headers={},
        verdict="valid",
    )
    _hub_lists(api, "xCL", "xCH")
    store_redirect_query(db, "client=xCL&channels=[xCH]", api, actor=demo_person())
    audit.record(db, operator="ops", action="demo", outcome="ok")
    tables = console_tables(db)
    assert {"events", "channels", "clients", "redirects", "audit", "api_keys", "io_links"} <= set(tables)
    assert "_sqlite_migrations" not in tables
    assert reset_console(db) >= 5
    assert all(db[table].count == 0 for table in tables)
    assert db["_sqlite_migrations"].count > 0
    save_events(
        db,
        parse_webhook_body(b'{"id":"e1","event":"channel_created","data":{"id":"xCH"}}'),
        headers={},
        verdict="valid",
    )
    assert db["events"].count == 1


def test_reset_leaves_full_text_indexes_usable(db: Database) -> None:
    with db.atomic():
        db["notes"].insert({"id": 1, "text": "hello demo"}, pk="id")
    db["notes"].enable_fts(["text"], create_triggers=True)
    reset_console(db)
    with db.atomic():
        db["notes"].insert({"id": 2, "text": "after reset"})
    assert [row["id"] for row in db["notes"].search("reset")] == [2]


def test_reset_console_empties_tables_that_refer_to_others(db: Database) -> None:
    # key_health refers to api_keys, and the tables go in name order: api_keys before key_health.
    db["api_keys"].insert(
        {"channel_id": "kCH", "status": "active", "outcome": "ok", "operator": "ops", "created_at": "2026-12-01"},
        alter=False,
    )
    key_id = db.execute("select max(id) from api_keys").fetchone()[0]
    db["key_health"].insert({"key_id": key_id, "channel_id": "kCH", "status": "stopped", "due_at": 0.0})
    assert reset_console(db) >= 2
    assert db["api_keys"].count == db["key_health"].count == 0
