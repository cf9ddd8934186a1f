"""After a key is made, make it ready to use (contract section 6): check the key, set the number's messaging
webhook, read it back. Each step has its own visible, audited status and can be run again on its own.

The stored key is decrypted only for these calls and dropped with the client that made them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.channels.projection import get_channel
from services.keys.key_api import KeyDestination, open_key_api
from services.keys.key_status import STEP_LABELS, STEPS
from services.keys.vault import KeyVault, VaultError
from services.messaging_api import MessagingApi, MessagingApiError, redacted_url
from services.settings import Settings
from services.store import utc_now

AUDIT_ACTIONS = {"check_key": "check_key", "set_webhook": "set_messaging_webhook", "read_back": "read_back_webhook"}
# ok: done; attention: done, but Meta limits or blocks sending; not_verifiable: done, but 360dialog offers no
# read to confirm it (a neutral state, never a failure); failed: run it again; skipped: not configured.
NOT_VERIFIABLE = "not_verifiable"
STEP_STATUSES = ("ok", "attention", NOT_VERIFIABLE, "failed", "skipped")
DONE_STATUSES = ("ok", "attention", NOT_VERIFIABLE)
# The webhook read is not in 360dialog's waba-v2 reference: these answers mean "not offered here".
READ_NOT_OFFERED = ("not_found", "not_allowed")
NOT_RUN = "not run"
UNSET_WEBHOOK = "CONSOLE_MESSAGING_WEBHOOK_URL is not set: set it, restart, then run this step again"


class KeyNotReady(Exception):
    """The chain cannot start for this channel; the message says why."""


@dataclass(frozen=True)
class ReadinessConfig(KeyDestination):
    webhook_template: str | None = field(repr=False)  # may hold a token
    webhook_headers: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadinessConfig:
        return cls(
            settings.messaging_webhook_url,
            dict(settings.messaging_webhook_headers),
            **KeyDestination.settings_fields(settings),
        )


@dataclass(frozen=True)
class StepState:
    step: str
    status: str
    detail: str
    at: str | None

    @property
    def label(self) -> str:
        return STEP_LABELS[self.step]


def webhook_url_for(template: str, channel: dict[str, Any]) -> str:
    """The template with this channel's values, each percent-encoded (the phone number as digits only)."""
    values = {
        "channel_id": channel.get("id") or "",
        "client_id": channel.get("client_id") or "",
        "phone_number": re.sub(r"\D", "", channel.get("phone_number") or ""),
    }
    return template.format(**{name: quote(value, safe="") for name, value in values.items()})


def _active_key(db: Database, channel_id: str) -> dict[str, Any] | None:
    rows = db.query(
        "select id, address, key_encrypted from api_keys where channel_id = ? and status = 'active' "
        "order by id desc limit 1",
        [channel_id],
    )
    return next(iter(rows), None)


def _record(db: Database, key_id: int, channel_id: str, step: str, status: str, detail: str, actor: Person) -> None:
    with db.atomic():
        db["key_steps"].upsert(
            {"key_id": key_id, "step": step, "status": status, "detail": detail, "at": utc_now(), "operator": actor.id},
            pk=("key_id", "step"),
        )
        audit.record(
            db, **audit_fields(actor), action=AUDIT_ACTIONS[step], channel_id=channel_id, outcome=status, detail=detail
        )


def _check_key(api: MessagingApi) -> tuple[str, str]:
    health = api.health_status()
    return ("ok" if health.available else "attention"), health.summary()


def _set_webhook(api: MessagingApi, url: str | None, headers: dict[str, str]) -> tuple[str, str]:
    if url is None:
        return "skipped", UNSET_WEBHOOK
    echo = api.set_webhook(url, headers)
    names = f" with headers {', '.join(sorted(headers))}" if headers else ""
    if echo.url is None:
        return "ok", f"messages go to {redacted_url(url)}{names} (360dialog's answer echoed no url)"
    if echo.url != url:
        # Set all the same (200); an echo spelled differently is not worth failing every key over.
        return "ok", f"set{names}; 360dialog's answer echoes {_held(echo.url, url)}, not {redacted_url(url)}"
    return "ok", f"messages go to {redacted_url(url)}{names}"


def _held(held_url: str | None, url: str) -> str:
    held = redacted_url(held_url) if held_url else "no webhook"
    return "another token or other credentials on the same address" if held == redacted_url(url) else held


def _read_back(api: MessagingApi, url: str | None, headers: dict[str, str]) -> tuple[str, str]:
    if url is None:
        return "skipped", UNSET_WEBHOOK
    try:
        config = api.webhook()
    except MessagingApiError as error:
        if error.kind not in READ_NOT_OFFERED:
            raise
        return NOT_VERIFIABLE, (
            f"not verifiable: this address offers no webhook read ({error.status}); 360dialog's answer to setting"
            " the webhook is the confirmation"
        )
    if config.url != url:
        return "failed", f"360dialog reads back {_held(config.url, url)} instead of {redacted_url(url)}"
    missing = sorted(set(headers) - set(config.header_names)) if config.header_names else []
    if missing:
        return "failed", f"360dialog reads back the webhook without the headers {', '.join(missing)}"
    return "ok", f"360dialog confirms messages go to {redacted_url(url)}"


def prepare_key(
    db: Database,
    vault: KeyVault,
    channel_id: str,
    config: ReadinessConfig,
    *,
    actor: Person,
    start_at: str | None = STEPS[0],
) -> list[StepState]:
    """Run the chain for the channel's active key from `start_at` on (None: from its first step not done); a
    failed step stops the ones after it.

    Raises NotAllowed (audited) when the actor's role may not, KeyNotReady when there is no active key. Returns
    the state of every step afterwards."""
    enforce(db, actor, "prepare_key", channel_id=channel_id)
    channel = get_channel(db, channel_id)
    key = _active_key(db, channel_id) if channel else None
    if channel is None or key is None:
        raise KeyNotReady("the channel has no active key: generate one first")
    if start_at is None:
        start_at = first_unfinished_step(key_readiness(db, channel_id)) or STEPS[0]
    if start_at not in STEPS:
        raise ValueError(f"unknown step {start_at!r}")
    url = webhook_url_for(config.webhook_template, channel) if config.webhook_template else None
    runners: dict[str, Callable[[MessagingApi], tuple[str, str]]] = {
        "check_key": _check_key,
        "set_webhook": lambda api: _set_webhook(api, url, config.webhook_headers),
        "read_back": lambda api: _read_back(api, url, config.webhook_headers),
    }
    try:
        api = open_key_api(key, vault, config)
    except (VaultError, MessagingApiError) as error:
        _record(db, key["id"], channel_id, start_at, "failed", str(error), actor)
        return key_readiness(db, channel_id)
    with api:
        for step in STEPS[STEPS.index(start_at) :]:
            try:
                status, detail = runners[step](api)
            except MessagingApiError as error:
                status, detail = "failed", error.message
            _record(db, key["id"], channel_id, step, status, detail, actor)
            if status == "failed":
                break
    return key_readiness(db, channel_id)


def key_readiness(db: Database, channel_id: str) -> list[StepState]:
    """Each step's state for the channel's active key; a step never run shows as 'not run'."""
    key = _active_key(db, channel_id)
    done = {}
    if key is not None:
        done = {row["step"]: row for row in db["key_steps"].rows_where("key_id = ?", [key["id"]])}
    return [
        StepState(step, done[step]["status"], done[step]["detail"] or "", done[step]["at"])
        if step in done
        else StepState(step, NOT_RUN, "", None)
        for step in STEPS
    ]


def first_unfinished_step(states: Iterable[StepState]) -> str | None:
    """Where a retry starts: the first step not ok (a skipped step counts as unfinished)."""
    return next((state.step for state in states if state.status not in DONE_STATUSES), None)


# A channel whose active key has not finished the chain: some step missing or not ok. Asked afresh, this reads
# every active key; the pages read the same keys from keys_not_ready, which triggers keep (services.migrations).
UNPREPARED_SQL = f"""
    select k.channel_id, k.id as key_id, k.created_at from api_keys k
    join channels c on c.id = k.channel_id and c.revoked = 0 and c.ended is null
    where k.status = 'active'
      and (select count(*) from key_steps s where s.key_id = k.id and s.status in {DONE_STATUSES}) < {len(STEPS)}
"""  # noqa: S608 - fixed SQL


def unprepared_count(db: Database, limit: int = 10_000) -> int:
    """How many keys unprepared_channel_ids would list, at most `limit`: from the count triggers keep, so it costs
    the same at any size."""
    row = db.execute("select coalesce(sum(keys), 0) from keys_not_ready_count").fetchone()
    return min(int(row[0]), limit)


def unprepared_channel_ids(db: Database, limit: int = 10_000) -> list[str]:
    return [
        row["channel_id"] for row in db.query("select channel_id from keys_not_ready order by key_id limit ?", [limit])
    ]


@dataclass(frozen=True)
class UnpreparedKey:
    channel_id: str
    since: str
    detail: str


def _unfinished(steps: str | None) -> str:
    done = dict(part.split("=", 1) for part in (steps or "").split(",") if "=" in part)
    for step in STEPS:
        status = done.get(step, NOT_RUN)
        if status not in DONE_STATUSES:
            return f"{STEP_LABELS[step]}: {status}"
    return ""


def unprepared_keys(db: Database, limit: int) -> list[UnpreparedKey]:
    """Channels whose key is not ready to use, oldest key first, each with its first step not done."""
    rows = db.query(
        """
        select u.channel_id, u.created_at,
               (select group_concat(s.step || '=' || s.status) from key_steps s where s.key_id = u.key_id) as steps
        from keys_not_ready u order by u.created_at limit ?
        """,
        [limit],
    )
    return [UnpreparedKey(row["channel_id"], row["created_at"], _unfinished(row["steps"])) for row in rows]
