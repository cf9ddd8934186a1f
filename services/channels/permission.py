"""Key permission for Direct-Paid partners: which of a client's numbers the partner may make keys for.

360dialog answers `shared_client_numbers` in a shape no source confirms (contract section 4), so the answer
is read tolerantly: the numbers may be listed as text, or as objects naming a channel id or a phone number,
under any of the list names seen or plausible. An answer whose shape is not recognised means "unknown",
never "denied". A 403 on a key request is the other source: 360dialog's own refusal, kept with its words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services import audit
from services.accounts import Person, audit_fields, enforce
from services.channels.projection import upsert_channel
from services.partner_api import PartnerApi, PartnerApiError
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


def refresh_permissions(db: Database, api: PartnerApi, client_id: str, *, actor: Person) -> PermissionCheck:
    """Ask 360dialog which of the client's numbers are shared and record it on each channel known here.

    A channel the client withdrew by redirect stays revoked unless 360dialog lists it as shared again.
    Raises NotAllowed (audited) when the actor's role may not ask, PartnerApiError when the question cannot be
    asked."""
    enforce(db, actor, "check_permission")
    shared = read_shared_numbers(api.shared_client_numbers(client_id))
    if shared is None:
        audit.record(
            db,
            **audit_fields(actor),
            action="check_permission",
            outcome="unknown",
            detail=f"client {client_id}: shared_client_numbers answered in a shape not recognised; nothing changed",
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
                upsert_channel(db, channel["id"], changes, source="partner_api")
                audit.record(
                    db,
                    **audit_fields(actor),
                    action="check_permission",
                    channel_id=channel["id"],
                    outcome=changes["permission"],
                    detail=changes["permission_detail"],
                )
    return PermissionCheck(client_id, True, granted, not_shared)


def record_refusal(db: Database, channel_id: str, message: str) -> None:
    """360dialog refused a key for this channel (403): no permission, in its own words."""
    upsert_channel(db, channel_id, {"permission": "denied", "permission_detail": message}, source="partner_api")


UNSETTLED_CLIENTS_PER_RUN = 50


def refresh_unsettled_permissions(
    db: Database, api: PartnerApi, *, actor: Person, limit: int = UNSETTLED_CLIENTS_PER_RUN
) -> list[PermissionCheck]:
    """For a Direct-Paid partner: ask 360dialog about the clients whose running channels have no settled
    permission (found by a sync, say), longest waiting first, at most `limit` clients a run. A client whose
    question fails is skipped until the next run; the others are still asked. Raises NotAllowed (audited) when
    the actor's role may not ask."""
    enforce(db, actor, "check_permission")
    rows = db.query(
        """
        select client_id, min(status_changed_at) as waiting_since from channels
        where status = 'running' and client_id is not null and coalesce(permission, 'unknown') = 'unknown'
        group by client_id order by waiting_since limit ?
        """,
        [limit],
    )
    checks = []
    for row in list(rows):
        try:
            checks.append(refresh_permissions(db, api, row["client_id"], actor=actor))
        except PartnerApiError as error:
            audit.record(
                db,
                **audit_fields(actor),
                action="check_permission",
                outcome="failed",
                detail=f"client {row['client_id']}: {error.message}",
            )
    return checks
