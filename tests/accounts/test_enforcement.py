"""Every action's service function refuses a role that may not do it, first: no Partner API or hub request, no
change to any table, and one audit row saying "refused" with the reason.

The table below names one call per entry of ACTIONS (and more where an action has several service functions);
a test checks that it covers every action, so a new action cannot be left out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography.fernet import Fernet
from sqlite_utils import Database

from services.accounts import (
    ACTIONS,
    ADMIN,
    OPERATOR,
    VIEWER,
    NotAllowed,
    Person,
    add_account,
    command_line_person,
    refusal,
    remove_account,
    reset_password,
    set_role,
)
from services.accounts.roles import rank
from services.alerts.delivery import send_test_alert
from services.alerts.destinations import destinations
from services.alerts.handling import acknowledge, snooze
from services.channels.permission import refresh_permissions, refresh_unsettled_permissions
from services.channels.projection import upsert_channel
from services.channels.sync import sync_channels, sync_one_channel
from services.channels.sync_runs import run_sync
from services.demo.controls import reset_demo, run_control, store_redirect_query
from services.demo.hub_client import SandboxClient
from services.demo.scenario import load_scenario
from services.keys.bulk import generate_many, prepare_many
from services.keys.generation import generate_key, record_download, record_reveal
from services.keys.readiness import ReadinessConfig, prepare_key
from services.keys.vault import KeyVault
from services.onboarding.links import LinkRequest, hand_out_link
from services.onboarding.redirect_decision import (
    apply_after_review,
    confirm_waiting_redirects,
    discard,
    discard_unreviewed,
)
from services.onboarding.redirect_params import parse_redirect
from services.onboarding.redirect_store import receive_redirect, save_redirect
from services.partner_api import PartnerApi
from services.store import open_console_db
from tests.support.alert_conditions import alert_settings
from tests.support.people import person

HUB = "http://hub.test"
REDIRECT = "client=cliX&channels=[chA1]"


@dataclass
class World:
    """What each call needs: a console database with a running channel, its active key, a held redirect and an
    account; a Partner API client and a sandbox hub client whose every request the test sees."""

    db: Database
    db_path: Path
    api: PartnerApi
    sandbox: SandboxClient
    vault: KeyVault
    redirect_id: int
    acted: list[str]

    def open_db(self) -> Database:
        return open_console_db(self.db_path)


Call = Callable[[World, Person], Any]


def _act(world: World) -> Callable[[], str]:
    def act() -> str:
        world.acted.append("the control ran")
        return "done"

    return act


# One entry per service function of an action: (action, what is called, the call).
CALLS: list[tuple[str, str, Call]] = [
    (
        "hand_out_link",
        "hand_out_link",
        lambda w, p: hand_out_link(w.db, LinkRequest(), partner_id="abcPA", actor=p, signing_secret="s" * 32),
    ),
    (
        "generate_key",
        "generate_key",
        lambda w, p: generate_key(w.db, w.api, w.vault, "chA1", actor=p, replace_existing=True),
    ),
    (
        "bulk_generate_keys",
        "generate_many",
        lambda w, p: generate_many(w.open_db, w.api, w.vault, ["chA1"], actor=p, max_workers=1),
    ),
    ("reveal_key", "record_reveal", lambda w, p: record_reveal(w.db, "chA1", actor=p, last4="cdef")),
    ("export_keys", "record_download", lambda w, p: record_download(w.db, actor=p, count=3)),
    (
        "prepare_key",
        "prepare_key",
        lambda w, p: prepare_key(w.db, w.vault, "chA1", ReadinessConfig("https://hooks.test/{channel_id}"), actor=p),
    ),
    (
        "prepare_key",
        "prepare_many",
        lambda w, p: prepare_many(w.open_db, w.vault, ["chA1"], ReadinessConfig(None), actor=p, max_workers=1),
    ),
    ("apply_redirect", "apply_after_review", lambda w, p: apply_after_review(w.db, w.api, w.redirect_id, actor=p)),
    (
        "apply_redirect",
        "save_redirect",
        lambda w, p: save_redirect(
            w.db, "client=cliY&channels=[chB1]", parse_redirect("client=cliY&channels=[chB1]"), w.api, actor=p
        ),
    ),
    (
        "apply_redirect",
        "confirm_waiting_redirects",
        lambda w, p: confirm_waiting_redirects(w.db, w.api, direct_paid=True, budget=5, actor=p),
    ),
    ("discard_redirect", "discard", lambda w, p: discard(w.db, w.redirect_id, actor=p)),
    ("discard_redirect", "discard_unreviewed", lambda w, p: discard_unreviewed(w.db, actor=p)),
    ("sync_channels", "sync_channels", lambda w, p: sync_channels(w.db, w.api, actor=p)),
    ("sync_channels", "run_sync", lambda w, p: run_sync(w.db, w.api, trigger="operator", actor=p)),
    ("sync_channels", "sync_one_channel", lambda w, p: sync_one_channel(w.db, w.api, "chA1", actor=p)),
    ("check_permission", "refresh_permissions", lambda w, p: refresh_permissions(w.db, w.api, "cliX", actor=p)),
    (
        "check_permission",
        "refresh_unsettled_permissions",
        lambda w, p: refresh_unsettled_permissions(w.db, w.api, actor=p),
    ),
    (
        "send_test_alert",
        "send_test_alert",
        lambda w, p: send_test_alert(
            w.db,
            destinations([f"json://{HUB.removeprefix('http://')}/alerts"]),
            alert_settings([f"json://{HUB.removeprefix('http://')}/alerts"]),
            actor=p,
            public_url="http://console.test",
        ),
    ),
    ("handle_alert", "acknowledge", lambda w, p: acknowledge(w.db, 1, actor=p)),
    ("handle_alert", "snooze", lambda w, p: snooze(w.db, 1, 4, actor=p)),
    ("demo_controls", "run_control", lambda w, p: run_control(w.db, p, "quality_change", _act(w), channel_id="chA1")),
    ("demo_controls", "reset_demo", lambda w, p: reset_demo(w.db, w.sandbox, actor=p)),
    ("demo_controls", "load_scenario", lambda w, p: load_scenario(w.db, w.api, w.vault, w.sandbox, actor=p, seed=1)),
    ("demo_controls", "store_redirect_query", lambda w, p: store_redirect_query(w.db, REDIRECT, w.api, actor=p)),
    ("manage_accounts", "add_account", lambda w, p: add_account(w.db, p, "cleo", "a long enough password", VIEWER)),
    ("manage_accounts", "reset_password", lambda w, p: reset_password(w.db, p, "bo", "another long password")),
    ("manage_accounts", "remove_account", lambda w, p: remove_account(w.db, p, "bo")),
    ("manage_accounts", "set_role", lambda w, p: set_role(w.db, p, "bo", ADMIN)),
]

# Each call, as every role below the least one its action needs.
REFUSED = [
    pytest.param(action, role, call, id=f"{name}-as-{role}")
    for action, name, call in CALLS
    for role in (VIEWER, OPERATOR)
    if rank(role) < rank(ACTIONS[action].least_role)
]


@pytest.fixture
def world(db: Database, db_path: Path) -> Iterator[World]:
    vault = KeyVault(Fernet.generate_key().decode())
    with db.atomic():
        upsert_channel(db, "chA1", {"status": "running", "client_id": "cliX", "permission": "granted"}, source="test")
        db["api_keys"].insert(
            {
                "channel_id": "chA1",
                "operator": "ana",
                "created_at": "2026-03-01T10:00:00+00:00",
                "outcome": "ok",
                "status": "active",
                "address": "https://waba.test",
                "key_encrypted": vault.seal("secret-key-0123456789abcdef"),
                "key_last4": "cdef",
            }
        )
    redirect_id = receive_redirect(db, REDIRECT).id
    add_account(db, command_line_person("root"), "bo", "a long enough password", OPERATOR)
    api = PartnerApi(f"{HUB}/api/v2", "abcPA", api_key="partner-key-123456", timeout=2)
    sandbox = SandboxClient(HUB, "partner-key-123456", timeout=2)
    yield World(db, db_path, api, sandbox, vault, redirect_id, [])
    api.close()


def _tables(db: Database) -> dict[str, list[tuple]]:
    """Every table's rows but the audit's, to compare before and after."""
    names = [
        name
        for (name,) in db.execute("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")
        if name != "audit" and not name.startswith("events_fts")
    ]
    return {name: db.execute(f'select * from "{name}"').fetchall() for name in names}


def _audit_ids(db: Database) -> int:
    return db.execute("select coalesce(max(id), 0) from audit").fetchone()[0]


@pytest.mark.parametrize(("action", "role", "call"), REFUSED)
def test_a_role_that_may_not_is_refused_before_any_side_effect(
    world: World, action: str, role: str, call: Call
) -> None:
    actor = person("vera", role)
    before, last_audit = _tables(world.db), _audit_ids(world.db)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        with pytest.raises(NotAllowed) as refused:
            call(world, actor)
        requests_made = [call.request.url for call in mocked.calls]
    assert requests_made == []
    assert world.acted == []
    assert _tables(world.db) == before
    rows = list(world.db.query("select * from audit where id > ?", [last_audit]))
    reason = refusal(actor, action)
    assert str(refused.value) == reason
    assert [(row["operator"], row["role"], row["action"], row["outcome"], row["detail"]) for row in rows] == [
        ("vera", role, action, "refused", reason)
    ]


def test_the_table_calls_every_action_of_the_console() -> None:
    assert {action for action, _, _ in CALLS} == set(ACTIONS)


def test_every_action_is_refused_to_a_viewer_and_the_admin_ones_to_an_operator() -> None:
    refused = {(param.values[0], param.values[1]) for param in REFUSED}
    assert {action for action, role in refused if role == VIEWER} == set(ACTIONS)
    admin_only = {name for name, action in ACTIONS.items() if action.least_role == ADMIN}
    assert {action for action, role in refused if role == OPERATOR} == admin_only


def test_an_operator_is_let_through_to_the_work(world: World) -> None:
    """The check lets the role that may through: the refusal above is the role's, not the call's."""
    world.acted.clear()
    assert run_control(world.db, person("ada", ADMIN), "quality_change", _act(world)) == "done"
    assert world.acted == ["the control ran"]
    record_reveal(world.db, "chA1", actor=person("otto", OPERATOR), last4="cdef")
    rows = list(world.db.query("select operator, role, action, outcome from audit order by id desc limit 2"))
    assert rows == [
        {"operator": "otto", "role": OPERATOR, "action": "reveal_key", "outcome": "ok"},
        {"operator": "ada", "role": ADMIN, "action": "demo_quality_change", "outcome": "ok"},
    ]
