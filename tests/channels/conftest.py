"""Channels and key attempts put straight into the console database, for the channels views."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlite_utils import Database

from services.channels.projection import upsert_channel


@pytest.fixture
def add_channel(db: Database) -> Callable[..., None]:
    """Upsert a channel with the given fields, as the sync or a webhook would."""

    def add(channel_id: str, **fields: object) -> None:
        with db.atomic():
            upsert_channel(db, channel_id, fields, source="test")

    return add


@pytest.fixture
def add_key(db: Database) -> Callable[..., None]:
    """Record a key attempt for a channel: by default one that succeeded and is active."""

    def add(channel_id: str, outcome: str = "ok", status: str | None = "active") -> None:
        with db.atomic():
            db["api_keys"].insert(
                {"channel_id": channel_id, "operator": "ops", "created_at": "t", "outcome": outcome, "status": status}
            )

    return add
