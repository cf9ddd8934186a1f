"""Key permission for Direct-Paid partners: which of a client's numbers the partner may make keys for.

360dialog answers `shared_client_numbers` in a shape no source confirms (contract section 4), so the answer
is read tolerantly: the numbers may be listed as text, or as objects naming a channel id or a phone number,
under any of the list names seen or plausible. An answer whose shape is not recognised means "unknown",
never "denied". A 403 on a key request is not a verdict on permission (360dialog documents no reason list, and
"Channel is not in running state" is one): it is kept as that request's refusal, in 360dialog's words, and the
next attempt asks again. A Direct-Paid client may grant or withdraw permission in its own hub at any time with no
event, so the scheduler asks again (`refresh_due_permissions`): soon and then less often while a client's
numbers are unsettled, daily once they are granted. Every change is audited on the channel and kept as
previous_permission / permission_changed_at for the "permission changed" alert."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.channels.projection import upsert_channel
from services.partner_api import PartnerApi, PartnerApiError
from services.store import utc_now
from services.whatsapp import phone_digits

LIST_NAMES = ("shared_client_numbers", "numbers", "phone_numbers", "shared_numbers", "channels", "data", "items")
ID_FIELDS = ("channel_id", "id", "channel")
NUMBER_FIELDS = ("phone_number", "number", "display_phone_number", "wa_id", "msisdn")
# Object flags that say an entry is listed but not shared.
DENIAL_FIELDS = ("shared", "permission_granted", "granted", "is_shared")
NOT_SHARED = "not_shared"


@dataclass(frozen=True)
class SharedNumbers:
    channel_ids: frozenset[str]
    digits: frozenset[str]

    def covers(self, channel: dict[str, Any]) -> bool:
        number = phone_digits(channel.get("phone_number"))
        return channel["id"] in self.channel_ids or (number is not None and number in self.digits)


def _entries(document: Any) -> list[Any] | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for name in LIST_NAMES:
            if isinstance(document.get(name), list):
                return document[name]
    return None


def _withheld(entry: dict[str, Any]) -> bool:
    return any(entry.get(name) is False for name in DENIAL_FIELDS)


def read_shared_numbers(document: Any) -> SharedNumbers | None:
    """The channels and numbers an answer says are shared; None when its shape is not recognised."""
    entries = _entries(document)
    if entries is None:
        return None
    channel_ids: set[str] = set()
    digits: set[str] = set()
    for entry in entries:
        if isinstance(entry, (str, int)):
            # Text with letters is a channel id; anything else is a number however it is written.
            text = str(entry)
            if any(character.isalpha() for character in text):
                channel_ids.add(text)
            elif phone_digits(text):
                digits.add(phone_digits(text))
        elif isinstance(entry, dict) and not _withheld(entry):
            channel_ids.update(str(entry[name]) for name in ID_FIELDS if isinstance(entry.get(name), str))
            digits.update(filter(None, (phone_digits(entry.get(name)) for name in NUMBER_FIELDS)))
        else:
            continue
    if entries and not channel_ids and not digits and not all(isinstance(e, dict) and _withheld(e) for e in entries):
        return None  # entries we could not read a single channel or number from
    return SharedNumbers(frozenset(channel_ids), frozenset(digits))


@dataclass(frozen=True)
class PermissionCheck:
    client_id: str
    known: bool
    granted: list[str]
    not_shared: list[str]


def _audit_client_check(db: Database, actor: Person, client_id: str, outcome: str, what_happened: str) -> None:
    """A question about a client's permissions that changed no channel, in the audit."""
    audit.record(
        db,
        **audit_fields(actor),
        action="check_permission",
        outcome=outcome,
        detail=f"client {client_id}: {what_happened}",
    )


def refresh_permissions(db: Database, api: PartnerApi, client_id: str, *, actor: Person) -> PermissionCheck:
    """Ask 360dialog which of the client's numbers are shared and record it on each channel known here.

    A channel the client withdrew by redirect stays revoked unless 360dialog lists it as shared again.
    Raises NotAllowed (audited) when the actor's role may not ask, PartnerApiError when the question cannot be
    asked."""
    enforce(db, actor, "check_permission")
    shared = read_shared_numbers(api.shared_client_numbers(client_id))
    if shared is None:
        _audit_client_check(
            db, actor, client_id, "unknown", "shared_client_numbers answered in a shape not recognised; nothing changed"
        )
        return PermissionCheck(client_id, False, [], [])
    channels = list(db.query("select id, phone_number, permission from channels where client_id = ?", [client_id]))
    granted, not_shared = [], []
    with db.atomic():
        for channel in channels:
            if shared.covers(channel):
                granted.append(channel["id"])
                changes = {"permission": "granted", "revoked": 0, "permission_detail": "listed as shared by 360dialog"}
            elif channel["permission"] == "revoked":
                continue
            else:
                not_shared.append(channel["id"])
                changes = {"permission": NOT_SHARED, "permission_detail": "not among the client's shared numbers"}
            if channel["permission"] != changes["permission"]:
                before = channel["permission"] or "unknown"
                changes |= {"previous_permission": before, "permission_changed_at": utc_now()}
                upsert_channel(db, channel["id"], changes, source="partner_api")
                audit.record(
                    db,
                    **audit_fields(actor),
                    action="check_permission",
                    channel_id=channel["id"],
                    outcome=changes["permission"],
                    detail=f"{before} -> {changes['permission']}: " + changes["permission_detail"],
                )
    return PermissionCheck(client_id, True, granted, not_shared)


def record_refusal(db: Database, channel_id: str, message: str) -> None:
    """360dialog refused a key for this channel (403), in its own words. The permission stays what
    shared_client_numbers last said; the next attempt asks 360dialog again."""
    with db.atomic():
        db.execute(
            "update channels set key_refusal = ?, key_refused_at = ? where id = ?",
            [message or "Forbidden (403), no reason given", utc_now(), channel_id],
        )


def clear_refusal(db: Database, channel_id: str) -> None:
    """A key was made: an earlier refusal no longer holds."""
    with db.atomic():
        db.execute(
            "update channels set key_refusal = null, key_refused_at = null where id = ? and key_refusal is not null",
            [channel_id],
        )


CLIENTS_PER_RUN = 50
UNSETTLED_CLIENTS_PER_RUN = CLIENTS_PER_RUN
# While a client's numbers are not all granted (or a key was refused), ask again after 15 min, doubling to a day.
FIRST_WAIT = timedelta(minutes=15)
LONGEST_WAIT = timedelta(hours=24)
# A client whose numbers are all granted may withdraw in its hub without an event: ask about it daily.
SETTLED_WAIT = timedelta(hours=24)

# Running channels whose permission is not settled: never asked, not shared, refused, or withdrawn.
UNSETTLED_SQL = "(coalesce(permission, 'unknown') != 'granted' or key_refusal is not null)"


def _next_wait(previous_minutes: float | None, settled: bool) -> timedelta:
    if settled:
        return SETTLED_WAIT
    if not previous_minutes:
        return FIRST_WAIT
    return min(timedelta(minutes=previous_minutes * 2), LONGEST_WAIT)


def _unsettled(db: Database, client_id: str) -> bool:
    sql = f"select 1 from channels where client_id = ? and status = 'running' and {UNSETTLED_SQL} limit 1"  # noqa: S608
    return db.execute(sql, [client_id]).fetchone() is not None


def _schedule(db: Database, client_id: str, now: datetime, *, settled: bool, outcome: str) -> None:
    row = db.execute("select wait_minutes from permission_rechecks where client_id = ?", [client_id]).fetchone()
    previous = None if settled or row is None else row[0]
    wait = _next_wait(previous, settled)
    with db.atomic():
        db["permission_rechecks"].upsert(
            {
                "client_id": client_id,
                "checked_at": now.isoformat(timespec="microseconds"),
                "next_at": (now + wait).isoformat(timespec="microseconds"),
                "wait_minutes": 0.0 if settled else wait.total_seconds() / 60,
                "outcome": outcome,
            },
            pk="client_id",
        )


def due_clients(db: Database, now: datetime, limit: int) -> list[str]:
    """Clients with running channels whose turn to be asked has come: never asked first, then those with
    unsettled numbers, then the longest waiting."""
    rows = db.query(
        f"""
        select c.client_id, max({UNSETTLED_SQL}) as unsettled, min(c.status_changed_at) as waiting_since
        from channels c left join permission_rechecks r on r.client_id = c.client_id
        where c.status = 'running' and c.client_id is not null
          and (r.next_at is null or r.next_at <= ?)
        group by c.client_id
        order by max(r.next_at is not null), unsettled desc, min(r.next_at), waiting_since limit ?
        """,  # noqa: S608 - fixed fragments
        [now.isoformat(timespec="microseconds"), limit],
    )
    return [row["client_id"] for row in rows]


def refresh_due_permissions(
    db: Database, api: PartnerApi, *, actor: Person, now: datetime | None = None, limit: int = CLIENTS_PER_RUN
) -> list[PermissionCheck]:
    """For a Direct-Paid partner: ask 360dialog about the clients whose turn has come (`due_clients`), at most
    `limit` a run, and set each one's next turn. A client whose question fails waits longer, like an unsettled
    one; the others are still asked. Raises NotAllowed (audited) when the actor's role may not ask."""
    enforce(db, actor, "check_permission")
    now = now or datetime.now(UTC)
    checks = []
    for client_id in due_clients(db, now, limit):
        try:
            check = refresh_permissions(db, api, client_id, actor=actor)
        except PartnerApiError as error:
            _audit_client_check(db, actor, client_id, "failed", error.message)
            _schedule(db, client_id, now, settled=False, outcome="failed")
            continue
        checks.append(check)
        settled = check.known and not _unsettled(db, client_id)
        _schedule(db, client_id, now, settled=settled, outcome="settled" if settled else "unsettled")
    return checks


def refresh_unsettled_permissions(
    db: Database, api: PartnerApi, *, actor: Person, limit: int = UNSETTLED_CLIENTS_PER_RUN
) -> list[PermissionCheck]:
    """The scheduler's permission step, by its former name: `refresh_due_permissions` now."""
    return refresh_due_permissions(db, api, actor=actor, limit=limit)
