"""The console's side of the demo controls: what the console stores when the sandbox hub acts."""

from __future__ import annotations

from sqlite_utils import Database

from services.demo.hub_client import SandboxClient
from services.onboarding.redirect import parse_redirect
from services.onboarding.redirects import StoredRedirect, save_raw_redirect, save_redirect
from services.partner_api import PartnerApi

MIGRATIONS_TABLE = "_sqlite_migrations"
ACCOUNT_ALERT_EVENTS = ("account_violation", "account_restriction")
DEMO_ACTOR = "demo controls"


def store_redirect_query(db: Database, query: str, api: PartnerApi) -> StoredRedirect:
    """Store a redirect the hub produced, exactly as the landing page would: raw first, then parsed, then
    applied once the Partner API lists its channels under the client.

    In real life a revocation reaches the console through the client's browser; in the demo the hub hands
    the query over directly. Raises services.onboarding.redirect.InvalidRedirect when it cannot be read.
    """
    save_raw_redirect(db, query)
    # The demo controls are an operator's own action: 360dialog is asked at once and the operator's word counts.
    return save_redirect(db, query, parse_redirect(query), api, operator=DEMO_ACTOR)


def send_account_alert(sandbox: SandboxClient, channel_id: str, event: str) -> str:
    """Ask the hub to flag or restrict the channel's number (`event`: account_violation or
    account_restriction). Returns what was sent: like 360dialog, the hub names the number, not the channel."""
    sent = sandbox.account_alert(channel_id, event)
    return f"{event} names only the number {sent['phone_number']}; the console matches it to {channel_id} by its digits"


def send_template_status(sandbox: SandboxClient, channel_id: str, status: str) -> str:
    """Ask the hub for a template decision on the WABA behind the channel. Returns what was sent: the event
    names the WABA (its data.id), so no channel row changes."""
    sent = sandbox.template_status_change(channel_id, status)
    return f"template {sent['template']} {status} on WABA {sent['waba_id']}, the one behind {channel_id}"


def console_tables(db: Database) -> list[str]:
    """Every table that holds console data: not the migrations record, not SQLite's or FTS's own tables."""
    rows = db.execute("select name, type from pragma_table_list where schema = 'main'").fetchall()
    return sorted(
        name
        for name, kind in rows
        if kind in {"table", "virtual"} and not name.startswith("sqlite_") and name != MIGRATIONS_TABLE
    )


def reset_console(db: Database) -> int:
    """Empty the console's tables (the schema stays); returns how many rows went."""
    removed = 0
    with db.atomic():
        for table in console_tables(db):
            removed += db.execute(f'delete from "{table}"').rowcount  # noqa: S608 - names from the schema
    return removed


def reset_demo(db: Database, sandbox: SandboxClient) -> int:
    """Start the demo afresh: the hub forgets everything, then the console does."""
    sandbox.reset()
    return reset_console(db)
