"""The console's side of the demo controls: what the console stores when the sandbox hub acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.demo.hub_client import SandboxClient, SandboxError
from services.onboarding.redirect_params import InvalidRedirect, parse_redirect
from services.onboarding.redirect_store import StoredRedirect, save_raw_redirect, save_redirect
from services.partner_api import PartnerApi, PartnerApiError

MIGRATIONS_TABLE = "_sqlite_migrations"
ACCOUNT_ALERT_EVENTS = ("account_violation", "account_restriction")
DEMO_ACTION = "demo_controls"
# How many channels the Demo page offers to act on: the latest changed. The demo's scenario makes 150; a
# database the size of a big partner's would otherwise put every channel in one list on every run of the page.
CHANNEL_CHOICES = 500
# What a demo control can fail with, said in words fit to show.
CONTROL_ERRORS = (SandboxError, PartnerApiError, InvalidRedirect)


def run_control(
    db: Database, actor: Person, control: str, act: Callable[[], str], *, channel_id: str | None = None
) -> str:
    """Run one demo control as the actor: refused (and audited) unless their role may use the demo controls;
    otherwise `act()` runs and the control is audited as demo_<control> with what it returned, or with the
    error it raised (one of CONTROL_ERRORS, raised again). Returns what `act()` returned."""
    enforce(db, actor, DEMO_ACTION, channel_id=channel_id)
    try:
        detail = act()
    except CONTROL_ERRORS as error:
        audit.record(
            db,
            **audit_fields(actor),
            action=f"demo_{control}",
            outcome="failed",
            channel_id=channel_id,
            detail=str(error),
        )
        raise
    audit.record(
        db, **audit_fields(actor), action=f"demo_{control}", outcome="ok", channel_id=channel_id, detail=detail
    )
    return detail


def store_redirect_query(db: Database, query: str, api: PartnerApi, *, actor: Person) -> StoredRedirect:
    """Store a redirect the hub produced, exactly as the landing page would: raw first, then parsed, then
    applied once the Partner API lists its channels under the client.

    In real life a revocation reaches the console through the client's browser; in the demo the hub hands
    the query over directly. Raises NotAllowed (audited) when the actor's role may not use the demo controls,
    services.onboarding.redirect_params.InvalidRedirect when the query cannot be read.
    """
    enforce(db, actor, DEMO_ACTION)
    save_raw_redirect(db, query)
    # The demo controls are the actor's own action: 360dialog is asked at once and their word counts.
    return save_redirect(db, query, parse_redirect(query), api, actor=actor)


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


def send_key_regeneration(sandbox: SandboxClient, channel_id: str) -> str:
    """Ask the hub to play the client generating its own key for the channel in its hub. Returns what happened:
    no event tells the console; its key-health rounds find the key stopped working."""
    done = sandbox.regenerate_key(channel_id)
    who = f"{done['client_name'] or 'the client'} ({done['phone_number'] or channel_id})"
    return (
        f"{who} generated its own key in its hub: {done['revoked_keys']} partner key(s) stopped working, "
        "with no event; the next key-health round finds it"
    )


CANCELLATION_STEPS = {
    "request": "The client asks to cancel",
    "revoke": "The client withdraws the request",
    "process": "360dialog processes the cancellation",
}


def send_cancellation(sandbox: SandboxClient, channel_id: str, step: str) -> str:
    """Ask the hub for a cancellation step on the channel (`step`: request, revoke or process). Returns what
    was sent."""
    sent = sandbox.cancellation(channel_id, step)
    ended = "; its channel object now carries terminated_at" if step == "process" else ""
    return f"{sent['event']} for {channel_id}{ended}"


def send_portfolio_limit(sandbox: SandboxClient, client_id: str, limit: str) -> str:
    """Ask the hub for a new messaging limit on the client's business portfolio. Returns what was sent: one
    quality event per number, the console alerting once for the portfolio when the limit fell."""
    sent = sandbox.change_portfolio_limit(client_id, limit)
    count = len(sent["channel_ids"])
    return f"limit {limit} for business portfolio {sent['portfolio_id']}: {count} number(s) told"


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
        # Tables go in name order, so a row may briefly outlive the row it refers to (key_health, api_keys):
        # the foreign keys are checked when everything is gone, at commit.
        db.execute("pragma defer_foreign_keys = on")
        for table in console_tables(db):
            removed += db.execute(f'delete from "{table}"').rowcount  # noqa: S608 - names from the schema
    return removed


def reset_demo(db: Database, sandbox: SandboxClient, *, actor: Person) -> int:
    """Start the demo afresh: the hub forgets everything, then the console does. Raises NotAllowed (audited)
    when the actor's role may not use the demo controls."""
    enforce(db, actor, DEMO_ACTION)
    sandbox.reset()
    return reset_console(db)


def recent_channels(db: Database, limit: int = CHANNEL_CHOICES) -> list[dict[str, Any]]:
    """The most recently changed channels, newest first, each with its client's name."""
    return list(
        db.query(
            """
            select channels.id, channels.client_id, channels.phone_number, channels.status,
                clients.name as client_name
            from channels left join clients on clients.id = channels.client_id
            order by channels.updated_at desc limit :limit
            """,
            {"limit": limit},
        )
    )


def client_numbers(db: Database, client_id: str) -> list[str]:
    """Every number of a client (its channel's id while the number is not known), latest changed first."""
    return [
        row["number"]
        for row in db.query(
            "select coalesce(phone_number, id) as number from channels where client_id = ? order by updated_at desc",
            [client_id],
        )
    ]
