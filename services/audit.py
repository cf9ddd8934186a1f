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


def entry(
    operator: str,
    action: str,
    at: str,
    *,
    outcome: str,
    channel_id: str | None = None,
    detail: str = "",
    run_id: int | None = None,
) -> dict[str, Any]:
    """One audit row for record_many; `run_id` names the sync run that wrote it, if any."""
    return {
        "at": at,
        "operator": operator,
        "action": action,
        "channel_id": channel_id,
        "outcome": outcome,
        "detail": detail,
        "sync_run_id": run_id,
    }


def record_many(db: Database, rows: list[dict[str, Any]]) -> None:
    """Audit rows made by `entry`, in one prepared statement; call inside the transaction of what they record."""
    if rows:
        db.conn.executemany(
            "insert into audit (at, operator, action, channel_id, outcome, detail, sync_run_id) "
            "values (:at, :operator, :action, :channel_id, :outcome, :detail, :sync_run_id)",
            rows,
        )


def set_outcome(db: Database, audit_id: int, outcome: str, detail: str = "") -> None:
    with db.atomic():
        db["audit"].update(audit_id, {"outcome": outcome, "detail": detail})


def recent(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    return list(db.query("select * from audit order by at desc, id desc limit ?", [limit]))
