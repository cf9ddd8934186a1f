"""The audit trail read back: every action with the IO links handed out, filtered, counted, exported."""

from __future__ import annotations

import csv
import io

from services import audit
from services.audit import AuditFilter, actions, audit_csv, count_entries, entries, operators
from services.onboarding.links import LinkRequest, hand_out_link
from tests.support.people import person


def _record(db, at: str, operator: str, action: str, channel_id: str | None = None, outcome: str = "ok", detail=""):
    with db.atomic():
        db["audit"].insert(
            {
                "at": at,
                "operator": operator,
                "action": action,
                "channel_id": channel_id,
                "outcome": outcome,
                "detail": detail,
            }
        )


def _seed(db) -> None:
    _record(db, "2026-11-20T10:00:00+00:00", "ann", "generate_key", "aCH", detail="key ending 1234")
    _record(db, "2026-11-20T11:00:00+00:00", "ben", "reveal_key", "aCH")
    _record(db, "2026-11-20T12:00:00+00:00", "(not signed in)", "login", outcome="refused", detail="wrong password")
    _record(db, "2026-11-20T13:00:00+00:00", "ann", "redirect_discard", detail="redirect #3")
    _record(db, "2026-11-20T14:00:00+00:00", "scheduler", "sync", "bCH", outcome="changed", detail="=HYPERLINK(1)")


def test_entries_are_newest_first_and_include_the_links_handed_out(db) -> None:
    _seed(db)
    link = hand_out_link(db, LinkRequest(params={}), partner_id="pa", actor=person("cleo"))
    rows = entries(db, AuditFilter())
    assert [row["action"] for row in rows] == [
        "hand_out_link",
        "sync",
        "redirect_discard",
        "login",
        "reveal_key",
        "generate_key",
    ]
    assert rows[0]["operator"] == "cleo"
    assert rows[0]["outcome"] == "ok"
    assert link.state not in rows[0]["detail"], "a link's state vouches for its redirect: it is not shown"
    assert actions(db) == ["generate_key", "hand_out_link", "login", "redirect_discard", "reveal_key", "sync"]
    assert operators(db) == ["(not signed in)", "ann", "ben", "cleo", "scheduler"]


def test_filters_by_operator_action_channel_and_time(db) -> None:
    _seed(db)

    def actions_of(**kwargs) -> list[str]:
        return [row["action"] for row in entries(db, AuditFilter(**kwargs))]

    assert actions_of(operator="ann") == ["redirect_discard", "generate_key"]
    assert actions_of(action="login") == ["login"]
    assert actions_of(channel_id="aCH") == ["reveal_key", "generate_key"]
    assert actions_of(since="2026-11-20T12:30:00+00:00") == ["sync", "redirect_discard"]
    assert actions_of(until="2026-11-20T10:30:00+00:00") == ["generate_key"]
    assert actions_of(operator="ann", channel_id="aCH") == ["generate_key"]
    assert count_entries(db, AuditFilter(operator="ann")) == 2
    assert count_entries(db, AuditFilter(), cap=3) == 3
    assert [row["action"] for row in entries(db, AuditFilter(), limit=2, offset=1)] == ["redirect_discard", "login"]


def test_csv_holds_the_filtered_entries_with_formulas_neutralised(db) -> None:
    _seed(db)
    audit.record(db, operator="dora", action="export_keys", outcome="ok", detail="2 new keys downloaded")
    rows = list(csv.DictReader(io.StringIO(audit_csv(db, AuditFilter(action="sync")))))
    assert [(row["operator"], row["channel_id"], row["detail"]) for row in rows] == [
        ("scheduler", "bCH", "'=HYPERLINK(1)")
    ]
    assert len(list(csv.DictReader(io.StringIO(audit_csv(db, AuditFilter(), max_rows=4))))) == 4
