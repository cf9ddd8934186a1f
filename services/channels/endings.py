"""A channel that ended at 360dialog: terminated (terminated_at on its channel object) or cancelled (a processed
cancellation). It leaves the onboarding funnel and offers no key; a cancellation request still pending says so.

The shapes of the cancellation events are unconfirmed (contract section 7): services.channels.projection reads
them defensively, and this module reads only the row it wrote."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from services.times import utc_text


def ended_reason(channel: dict[str, Any] | None) -> str | None:
    """Why the channel offers no key any more, or None while it has not ended."""
    if not channel:
        return None
    if channel.get("terminated_at"):
        return f"360dialog terminated this channel at {_when(channel['terminated_at'])}: it takes no key"
    if channel.get("cancellation") == "cancelled":
        return f"the channel's cancellation was processed at {_when(channel.get('cancellation_at'))}: it takes no key"
    return None


def cancellation_note(channel: dict[str, Any] | None) -> str | None:
    """A cancellation requested and neither processed nor revoked yet, or None."""
    if channel and channel.get("cancellation") == "requested" and not ended_reason(channel):
        return f"cancellation requested at {_when(channel.get('cancellation_at'))}; a revoke would withdraw it"
    return None


def still_open(db: Database, channel_ids: Iterable[str]) -> list[str]:
    """The given channels that have not ended, in the order given."""
    ids = list(channel_ids)
    if not ids:
        return []
    ended = {
        row[0]
        for row in db.execute(
            "select id from channels where id in (select value from json_each(?)) and ended is not null",
            [json.dumps(ids)],
        )
    }
    return [channel_id for channel_id in ids if channel_id not in ended]


def _when(moment: str | None) -> str:
    return utc_text(moment, missing="an unknown time", zone=True)
