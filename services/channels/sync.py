"""Reconcile channels with the Partner API: catches webhooks that never arrived."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlite_utils import Database

from services import audit
from services.channels.projection import apply_api_channel, get_channel
from services.partner_api import PartnerApi

SYNCED_FIELDS = ("status", "quality_rating", "messaging_limit", "phone_number", "phone_name", "client_id")


@dataclass(frozen=True)
class ChannelChange:
    channel_id: str
    field: str
    before: str | None
    after: str | None


@dataclass
class SyncReport:
    seen: int = 0
    total: int = 0
    new_channels: list[str] = field(default_factory=list)
    changes: list[ChannelChange] = field(default_factory=list)

    @property
    def changed_channels(self) -> int:
        return len({change.channel_id for change in self.changes})


def _describe(changes: list[ChannelChange]) -> str:
    return "; ".join(f"{change.field}: {change.before or '-'} -> {change.after or '-'}" for change in changes)


def sync_channels(
    db: Database,
    api: PartnerApi,
    *,
    operator: str,
    on_progress: Callable[[int, int], None] | None = None,
) -> SyncReport:
    """Page through every partner channel, project each one, and report what changed.

    Raises PartnerApiError when a page cannot be read; what was synced before that stays synced."""
    report = SyncReport()
    run_id = audit.record(db, operator=operator, action="sync_channels", outcome="started")
    try:
        for channel, total in api.iter_channels():
            report.seen += 1
            report.total = total
            _sync_one(db, channel, operator, report)
            if on_progress is not None:
                on_progress(report.seen, max(total, report.seen))
    except Exception as error:
        audit.set_outcome(db, run_id, "failed", f"after {report.seen} channels: {type(error).__name__}")
        raise
    audit.set_outcome(
        db,
        run_id,
        "ok",
        f"{report.seen} channels read, {len(report.new_channels)} new, {report.changed_channels} changed",
    )
    return report


def _sync_one(db: Database, channel: dict, operator: str, report: SyncReport) -> None:
    channel_id = channel.get("id")
    if not isinstance(channel_id, str) or not channel_id:
        return
    with db.atomic():
        before = get_channel(db, channel_id)
        after = apply_api_channel(db, channel)
    if before is None:
        report.new_channels.append(channel_id)
        audit.record(db, operator=operator, action="sync", channel_id=channel_id, outcome="new", detail="first seen")
        return
    changes = [
        ChannelChange(channel_id, name, before.get(name), after.get(name))
        for name in SYNCED_FIELDS
        if before.get(name) != after.get(name)
    ]
    if changes:
        report.changes.extend(changes)
        audit.record(
            db, operator=operator, action="sync", channel_id=channel_id, outcome="changed", detail=_describe(changes)
        )
