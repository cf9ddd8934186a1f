"""What the console reads of key health: a channel's active key's last check, the keys that stopped working (the
work queue), the last round and the tally of verdicts (Receiver health). Only the active key counts: a new key
for the channel leaves the old one's verdict behind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from services.keys.health.checks import OPEN_KEYS_SQL, STOPPED, STOPPED_MEANING, UNCHECKED, HealthRound

VERDICT_LABELS = {
    UNCHECKED: "not checked yet",
    "ok": "working",
    "limited": "working, but Meta limits sending",
    "blocked": "working, but Meta blocks sending",
    STOPPED: "key stopped working",
}


@dataclass(frozen=True)
class ChannelKeyHealth:
    key_id: int
    status: str
    detail: str
    checked_at: str | None
    changed_at: str | None
    # The last check that could not be made, when the one after it has not succeeded yet.
    problem: str | None
    problem_at: str | None

    @property
    def label(self) -> str:
        return VERDICT_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class StoppedKey:
    key_id: int
    channel_id: str
    detail: str
    since: str | None
    phone_number: str | None
    phone_name: str | None

    @property
    def action(self) -> str:
        return f"Generate a new key for {self.phone_number or self.phone_name or 'channel ' + self.channel_id}"


def channel_key_health(db: Database, channel_id: str) -> ChannelKeyHealth | None:
    """The channel's active key's health row; None when it has no active key or the key is not followed yet."""
    rows = list(
        db.query(
            """
            select h.* from api_keys k join key_health h on h.key_id = k.id
            where k.channel_id = ? and k.status = 'active' order by k.id desc limit 1
            """,
            [channel_id],
        )
    )
    if not rows:
        return None
    row = rows[0]
    return ChannelKeyHealth(
        row["key_id"],
        row["status"],
        row["detail"] or "",
        row["checked_at"],
        row["changed_at"],
        row["problem"],
        row["problem_at"],
    )


def stopped_keys(db: Database, limit: int) -> list[StoppedKey]:
    """Active keys of open channels whose last verdict is 'stopped', the most recent first. "cross join" keeps
    SQLite reading the few stopped verdicts, newest first, rather than every active key."""
    rows = db.query(
        f"""
        select h.key_id, h.channel_id, h.detail, h.changed_at, c.phone_number, c.phone_name
        from key_health h cross join ({OPEN_KEYS_SQL}) o on o.key_id = h.key_id join channels c on c.id = h.channel_id
        where h.status = '{STOPPED}' order by h.changed_at desc limit ?
        """,  # noqa: S608 - fixed SQL of our own
        [limit],
    )
    return [
        StoppedKey(
            row["key_id"],
            row["channel_id"],
            row["detail"] or STOPPED_MEANING,
            row["changed_at"],
            row["phone_number"],
            row["phone_name"],
        )
        for row in rows
    ]


def last_round(db: Database) -> HealthRound | None:
    rows: list[dict[str, Any]] = list(db.query("select * from key_health_rounds order by id desc limit 1"))
    if not rows:
        return None
    row = rows[0]
    return HealthRound(
        row["started_at"], row["finished_at"], row["checked"], row["stopped"], row["could_not_check"], row["still_due"]
    )


def verdict_counts(db: Database) -> dict[str, int]:
    """Open active keys by their last verdict ('unchecked' for keys not followed yet), and how many of them
    could not be checked the last time they were asked (`could_not_check`)."""
    counts = dict.fromkeys(VERDICT_LABELS, 0)
    rows = db.query(
        f"""
        select coalesce(h.status, '{UNCHECKED}') as status, count(*) as keys, count(h.problem) as problems
        from ({OPEN_KEYS_SQL}) o left join key_health h on h.key_id = o.key_id group by 1
        """  # noqa: S608 - fixed SQL of our own
    )
    problems = 0
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + row["keys"]
        problems += row["problems"]
    return {**counts, "could_not_check": problems}
