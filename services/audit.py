"""Who did what to which channel, with the outcome."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from services.store import utc_now


def record(
    db: Database, *, operator: str, action: str, outcome: str, channel_id: str | None = None, detail: str = ""
) -> int:
    with db.atomic():
        table = db["audit"].insert(
            {
                "at": utc_now(),
                "operator": operator,
                "action": action,
                "channel_id": channel_id,
                "outcome": outcome,
                "detail": detail,
            }
        )
    return int(table.last_pk)


def set_outcome(db: Database, audit_id: int, outcome: str, detail: str = "") -> None:
    with db.atomic():
        db["audit"].update(audit_id, {"outcome": outcome, "detail": detail})


def recent(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    return list(db.query("select * from audit order by at desc, id desc limit ?", [limit]))
