"""Who did what to which channel, with the outcome: recorded as it happens, read back for the audit page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

from sqlite_utils import Database

from services.spreadsheet import csv_text
from services.sql_where import Where
from services.store import utc_now

# The bulk run (its own audit row's id) the rows recorded now belong to, if any: see `bulk_run`.
_RUN: ContextVar[int | None] = ContextVar("audit_run", default=None)


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
                "run_id": _RUN.get(),
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
            "insert into audit (at, operator, role, action, channel_id, outcome, detail, sync_run_id, run_id) "
            "values (:at, :operator, :role, :action, :channel_id, :outcome, :detail, :sync_run_id, :run_id)",
            [{"role": None, "run_id": _RUN.get(), **row} for row in rows],
        )


@contextmanager
def bulk_run(db: Database, *, operator: str, action: str, role: str | None = None) -> Iterator[int]:
    """Group what is recorded inside under one run: its own row (`action`, e.g. bulk_generate_keys) says how
    many channels and steps it covered once it ends, and each row recorded meanwhile names it. Yields its id."""
    run_id = record(db, operator=operator, action=action, outcome="started", role=role)
    token = _RUN.set(run_id)
    try:
        yield run_id
    except BaseException:
        _RUN.reset(token)
        _sum_up(db, run_id, "failed")
        raise
    _RUN.reset(token)
    _sum_up(db, run_id, "ok")


def _sum_up(db: Database, run_id: int, outcome: str) -> None:
    channels, steps, failed = db.execute(
        "select count(distinct channel_id), count(*), count(*) filter (where outcome in ('failed', 'refused'))"
        " from audit where run_id = ?",
        [run_id],
    ).fetchone()
    detail = f"{channels:,} channel(s), {steps:,} step(s)" + (f", {failed:,} failed" if failed else "")
    set_outcome(db, run_id, outcome, detail)


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
COLUMNS = ("at", "operator", "role", "action", "channel_id", "outcome", "detail", "run_id")
# Every action with who, when, what and the outcome: the audit rows, and the IO links handed out. `id` is the
# audit row's (a run's rows name it in `run_id`).
_ENTRIES = f"""
    select id, at, operator, role, action, channel_id, outcome, detail, run_id from audit
    union all
    select null, created_at, operator, null, '{LINK_ACTION}', null,
           case when redirect_id is not null then 'redirected' when used_at is not null then 'used' else 'ok' end,
           'IO link (' || coalesce(env, '?') || ', hub ' || coalesce(version, '?') || ')'
           || coalesce(', redirect #' || redirect_id, ''),
           null
    from io_links
"""  # noqa: S608 - a fixed name


@dataclass(frozen=True)
class AuditFilter:
    operator: str | None = None
    action: str | None = None
    channel_id: str | None = None
    since: str | None = None
    until: str | None = None
    # One bulk run's rows; without it (and without a channel or action asked for) a run is one line.
    run_id: int | None = None
    runs_folded: bool = True


def _where(audit_filter: AuditFilter) -> Where:
    where = Where()
    if audit_filter.run_id is not None:
        where.condition("run_id = ?", audit_filter.run_id)
    elif audit_filter.runs_folded and not (audit_filter.channel_id or audit_filter.action):
        where.condition("run_id is null")
    where.equals("operator", audit_filter.operator)
    where.equals("action", audit_filter.action)
    where.equals("channel_id", audit_filter.channel_id)
    return where.time_range("at", audit_filter.since, audit_filter.until)


def entries(db: Database, audit_filter: AuditFilter, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Matching entries, newest first, each with its channel's number, display name and business, and a run's
    count of rows (`run_rows`, 0 for others)."""
    where = _where(audit_filter)
    sql = f"""
        select e.*, channels.phone_number, channels.phone_name, channels.client_id, clients.name as client_name,
               case when e.id is null then 0 else (select count(*) from audit r where r.run_id = e.id) end as run_rows
        from (select * from ({_ENTRIES}){where.sql} order by at desc limit ? offset ?) e
        left join channels on channels.id = e.channel_id
        left join clients on clients.id = channels.client_id
        order by e.at desc
    """  # noqa: S608 - fixed fragments
    return list(db.query(sql, [*where.params, limit, offset]))


def count_entries(db: Database, audit_filter: AuditFilter, *, cap: int = COUNT_CAP) -> int:
    """Matching entries, counted no further than `cap`."""
    where = _where(audit_filter)
    sql = f"select count(*) from (select 1 from ({_ENTRIES}){where.sql} limit ?)"  # noqa: S608 - fixed fragments
    return int(db.execute(sql, [*where.params, cap]).fetchone()[0])


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
    # Every row, a run's own ones included: the export is the record, not the page's summary.
    return csv_text(COLUMNS, entries(db, replace(audit_filter, runs_folded=False), limit=max_rows))
