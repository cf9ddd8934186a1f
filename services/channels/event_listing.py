"""Listing incoming events: the receiver's writer moves them into the events table and projects each onto its
channel and client, in one transaction.

Storing an event is the events package's (services.events.incoming); what an event changes on a channel is the
projection's (services.channels.projection). Doing both together lives here, above the two, so that events
never needs to know about channels.
"""

from __future__ import annotations

from sqlite_utils import Database

from services.channels.projection import apply_webhook_events
from services.events.incoming import forget_incoming, move_into_events, oldest_incoming


def list_incoming(db: Database, limit: int) -> int:
    """Move up to `limit` of the oldest incoming events into `events`, in order, and project them onto their
    channels and clients as of when each was received; returns how many. Call inside a transaction."""
    oldest = oldest_incoming(db, limit)
    if not oldest:
        return 0
    last_id = oldest[-1].id
    move_into_events(db, last_id)
    apply_webhook_events(db, oldest, at=[event.received_at for event in oldest])
    forget_incoming(db, last_id)
    return len(oldest)
