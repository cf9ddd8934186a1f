"""Everything that happened to one channel, in one list: link, redirect, webhooks, syncs, keys, operators."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database

from services.audit_words import what_happened
from services.channels.account_alerts import channel_alerts
from services.channels.templates import channel_template_events
from services.onboarding.redirect_decision import APPLIED_VERDICTS

TIMELINE_LIMIT = 500


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    what: str
    who: str
    detail: str


def _redirect_entries(db: Database, channel_id: str, limit: int) -> list[TimelineEntry]:
    rows = db.query(
        """
        select redirects.*, io_links.operator as link_operator, io_links.created_at as link_created_at,
               clients.name as client_name
        from redirects left join io_links on io_links.state = redirects.state
        left join clients on clients.id = redirects.client_id
        where exists (select 1 from json_each(coalesce(redirects.channels, '[]')) where value = :id)
           or exists (select 1 from json_each(coalesce(redirects.revoked, '[]')) where value = :id)
        order by redirects.received_at limit :limit
        """,
        {"id": channel_id, "limit": limit},
    )
    entries = []
    for row in rows:
        if row["link_created_at"]:
            entries.append(
                TimelineEntry(row["link_created_at"], "onboarding link handed out", row["link_operator"] or "", "")
            )
        revoked = channel_id in json.loads(row["revoked"] or "[]")
        what = "permission withdrawn" if revoked else "permission granted"
        # A redirect is a claim: only an applied one changed anything.
        what = f"redirect: {what}" if row["verdict"] in APPLIED_VERDICTS else f"redirect (not applied) claims: {what}"
        detail = f"for {row['client_name'] or 'client ' + (row['client_id'] or '(none named)')}; {_state_words(row)}"
        entries.append(TimelineEntry(row["received_at"], what, "client", detail))
    return entries


# How the redirect's `state` related to the links handed out (services.onboarding.redirect_decision.state_match).
STATE_WORDS = {
    "matched": "it came back through a link handed out here",
    "no state": "it named no link handed out here",
    "unknown state": "it named a link this console never handed out",
    "already used": "its link had already brought another client",
    "expired link": "its link had expired",
}


def _state_words(row: dict) -> str:
    state = row["state_match"]
    return STATE_WORDS.get(state, f"its link: {state}") if state else "its link was not checked yet"


def _event_entries(db: Database, channel_id: str, limit: int) -> list[TimelineEntry]:
    rows = db.query(
        """
        select received_at, event_type, status, signature_verdict, duplicate_count from events
        where channel_id = ? order by received_at desc, id desc limit ?
        """,
        [channel_id, limit],
    )
    entries = []
    for row in rows:
        parts = [f"status {row['status']}" if row["status"] else "", f"signature {row['signature_verdict']}"]
        if row["duplicate_count"]:
            parts.append(f"{row['duplicate_count']} duplicate(s)")
        detail = ", ".join(part for part in parts if part)
        entries.append(TimelineEntry(row["received_at"], f"webhook {row['event_type']}", "360dialog", detail))
    return entries


def _alert_entries(db: Database, channel_id: str, limit: int) -> list[TimelineEntry]:
    # Account violations and restrictions name the number only: they are found by the channel's digits.
    return [
        TimelineEntry(alert.received_at, alert.label, "360dialog", f"{alert.summary} (matched by phone number)")
        for alert in channel_alerts(db, channel_id, limit)
    ]


def _template_entries(db: Database, channel_id: str, limit: int) -> list[TimelineEntry]:
    # Template events name the WABA: every channel of that WABA shows them.
    return [
        TimelineEntry(
            event.received_at, f"webhook {event.event_type}", "360dialog", f"{event.summary} (WABA {event.waba_id})"
        )
        for event in channel_template_events(db, channel_id, limit)
    ]


# Key health's verdicts as the timeline names them (services.keys.health): each entry is a change of verdict.
KEY_HEALTH_LABELS = {
    "stopped": "key stopped working",
    "ok": "key health back to ok",
    "limited": "key health: Meta limits sending",
    "blocked": "key health: Meta blocks sending",
}


def _audit_what(action: str, outcome: str) -> str:
    """A sentence, not `demo_revoke: ok`."""
    if action == "key_health" and outcome in KEY_HEALTH_LABELS:
        return KEY_HEALTH_LABELS[outcome]
    return what_happened(action, outcome)


def _sync_run(row: dict) -> str:
    """The sync run that wrote an audit row: by whom, how it ended, how long it took."""
    if row["sync_run"] is None:
        return ""
    by = "the scheduler" if row["run_trigger"] == "scheduler" else row["operator"]
    took = f" in {row['run_duration']:.1f} s" if row["run_duration"] is not None else ""
    return f"sync run {row['sync_run']} by {by}: {row['run_outcome']}{took}"


def _audit_entries(db: Database, channel_id: str, limit: int) -> list[TimelineEntry]:
    rows = db.query(
        """
        select audit.*, sync_runs.id as sync_run, sync_runs.trigger as run_trigger,
               sync_runs.outcome as run_outcome, sync_runs.duration_seconds as run_duration
        from audit left join sync_runs on sync_runs.id = audit.sync_run_id
        where audit.channel_id = ? order by audit.at desc, audit.id desc limit ?
        """,
        [channel_id, limit],
    )
    return [
        TimelineEntry(
            row["at"],
            _audit_what(row["action"], row["outcome"]),
            row["operator"],
            " · ".join(part for part in (row["detail"], _sync_run(row)) if part),
        )
        for row in rows
    ]


def _key_entries(db: Database, channel_id: str, limit: int) -> list[TimelineEntry]:
    # Keys made unusable by a client's revocation leave no audit row of their own.
    rows = db.query(
        "select created_at, key_last4 from api_keys where channel_id = ? and status = 'unusable' limit ?",
        [channel_id, limit],
    )
    return [
        TimelineEntry(row["created_at"], "key now unusable", "client", f"key ending {row['key_last4']}") for row in rows
    ]


def channel_timeline(
    db: Database, channel_id: str, *, limit: int = TIMELINE_LIMIT, redirects: bool = True
) -> list[TimelineEntry]:
    """Newest first; each source is bounded (`limit` entries) so a noisy channel cannot slow the page down.
    `redirects=False` leaves out the link and redirect entries (a client's timeline tells each redirect once)."""
    entries = [
        *(_redirect_entries(db, channel_id, limit) if redirects else []),
        *_event_entries(db, channel_id, limit),
        *_alert_entries(db, channel_id, limit),
        *_template_entries(db, channel_id, limit),
        *_audit_entries(db, channel_id, limit),
        *_key_entries(db, channel_id, limit),
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)
