"""Every audit row can carry the person's verified identity and the role they acted in (m025)."""

from __future__ import annotations

import csv
import io

from services import audit
from services.accounts import ADMIN, OPERATOR, Person, SignInMethod, audit_fields, demo_person
from services.audit import AuditFilter, audit_csv, entries

ANA = Person(id="ana@example.com", display_name="Ana", role=OPERATOR, method=SignInMethod.SSO)


def test_a_row_records_who_and_in_which_role(db) -> None:
    audit.record(db, **audit_fields(ANA), action="generate_key", outcome="ok", channel_id="aCH")
    audit.record(db, **audit_fields(demo_person()), action="demo_reset", outcome="ok")
    # A process, or a caller from before roles, records no role.
    audit.record(db, operator="scheduler", action="sync_channels", outcome="ok")
    rows = [(row["operator"], row["role"], row["action"]) for row in entries(db, AuditFilter())]
    assert sorted(rows, key=lambda row: row[2]) == [
        ("demo", ADMIN, "demo_reset"),
        ("ana@example.com", OPERATOR, "generate_key"),
        ("scheduler", None, "sync_channels"),
    ]


def test_rows_written_together_carry_their_role(db) -> None:
    at = "2026-12-01T10:00:00+00:00"
    audit.record_many(
        db,
        [
            audit.entry("ana@example.com", "sync_channels", at, outcome="ok", role=OPERATOR),
            audit.entry("scheduler", "sync_channels", at, outcome="ok"),
        ],
    )
    assert [row["role"] for row in db.query("select role from audit order by id")] == [OPERATOR, None]


def test_the_csv_export_has_the_role(db) -> None:
    audit.record(db, **audit_fields(ANA), action="reveal_key", outcome="ok")
    (row,) = csv.DictReader(io.StringIO(audit_csv(db, AuditFilter())))
    assert (row["operator"], row["role"], row["action"]) == ("ana@example.com", OPERATOR, "reveal_key")
