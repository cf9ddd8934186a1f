"""Who did what to which channel, with the outcome: recorded as it happens, read back for the audit page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.spreadsheet import csv_text
from services.store import utc_now


def record(
    db: Database,
    *,
    operator: str,
    action: str,
    outcome: str,
    channel_id: str | None = None,
    detail: str = "",
    role: str | None = None,
) -> int:
    """One audit row. `operator` is who acted (a person's stable id, or a process such as the scheduler) and
    `role` the role they acted in (services/accounts: `audit_fields(person)` gives both)."""
    with db.atomic():
        table = db["audit"].insert(
            {
                "at": utc_now(),
                "operator": operator,
                "role": role,
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
    role: str | None = None,
) -> dict[str, Any]:
    """One audit row for record_many; `run_id` names the sync run that wrote it, if any."""
    return {
        "at": at,
        "operator": operator,
        "role": role,
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
            "insert into audit (at, operator, role, action, channel_id, outcome, detail, sync_run_id) "
            "values (:at, :operator, :role, :action, :channel_id, :outcome, :detail, :sync_run_id)",
            [{"role": None, **row} for row in rows],
        )


def set_outcome(db: Database, audit_id: int, outcome: str, detail: str = "") -> None:
    with db.atomic():
        db["audit"].update(audit_id, {"outcome": outcome, "detail": detail})


def recent(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    return list(db.query("select * from audit order by at desc, id desc limit ?", [limit]))


# -- reading: the audit page (pages/audit.py) ---------------------------------------------------------------

# IO links handed out are kept in io_links (services/onboarding/links.py), not in `audit`: the page lists them
# among the other actions under this name.
LINK_ACTION = "hand_out_link"
COUNT_CAP = 10_000
EXPORT_MAX_ROWS = 10_000
RECENT_OPERATORS_WINDOW = 10_000
COLUMNS = ("at", "operator", "role", "action", "channel_id", "outcome", "detail")
# Every action with who, when, what and the outcome: the audit rows, and the IO links handed out.
_ENTRIES = f"""
    select at, operator, role, action, channel_id, outcome, detail from audit
    union all
    select created_at, operator, null, '{LINK_ACTION}', null,
           case when redirect_id is not null then 'redirected' when used_at is not null then 'used' else 'ok' end,
           'IO link (' || coalesce(env, '?') || ', hub ' || coalesce(version, '?') || ')'
           || coalesce(', redirect #' || redirect_id, '')
    from io_links
"""  # noqa: S608 - a fixed name


@dataclass(frozen=True)
class AuditFilter:
    operator: str | None = None
    action: str | None = None
    channel_id: str | None = None
    since: str | None = None
    until: str | None = None


def _where(audit_filter: AuditFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("operator", audit_filter.operator),
        ("action", audit_filter.action),
        ("channel_id", audit_filter.channel_id),
    ):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if audit_filter.since:
        clauses.append("at >= ?")
        params.append(audit_filter.since)
    if audit_filter.until:
        clauses.append("at < ?")
        params.append(audit_filter.until)
    return (" where " + " and ".join(clauses)) if clauses else "", params


def entries(db: Database, audit_filter: AuditFilter, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Matching entries, newest first."""
    where, params = _where(audit_filter)
    sql = f"select * from ({_ENTRIES}){where} order by at desc limit ? offset ?"  # noqa: S608 - fixed fragments
    return list(db.query(sql, [*params, limit, offset]))


def count_entries(db: Database, audit_filter: AuditFilter, *, cap: int = COUNT_CAP) -> int:
    """Matching entries, counted no further than `cap`."""
    where, params = _where(audit_filter)
    sql = f"select count(*) from (select 1 from ({_ENTRIES}){where} limit ?)"  # noqa: S608 - fixed fragments
    return int(db.execute(sql, [*params, cap]).fetchone()[0])


def actions(db: Database) -> list[str]:
    """The actions recorded so far (the audit's action index answers without reading the rows)."""
    names = [action for (action,) in db.execute("select distinct action from audit")]
    if db.execute("select exists (select 1 from io_links)").fetchone()[0]:
        names.append(LINK_ACTION)
    return sorted(names)


def operators(db: Database) -> list[str]:
    """Who acted among the newest entries, by name: a filter's choices without reading the whole table."""
    sql = """
        select distinct operator from (select operator from audit order by id desc limit ?)
        union select distinct operator from (select operator from io_links order by rowid desc limit ?)
    """
    return sorted(operator for (operator,) in db.execute(sql, [RECENT_OPERATORS_WINDOW] * 2) if operator)


def audit_csv(db: Database, audit_filter: AuditFilter, *, max_rows: int = EXPORT_MAX_ROWS) -> str:
    """The filtered entries as CSV, newest first, every cell safe to open in a spreadsheet."""
    return csv_text(COLUMNS, entries(db, audit_filter, limit=max_rows))
