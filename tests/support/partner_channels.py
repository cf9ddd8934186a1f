"""Channel lists as the mocked Partner API pages them, and a sync lease held by someone else."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlite_utils import Database

from services.channels.sync_runs import LEASE_NAME
from tests.support.mocked_hub import BASE

CHANNELS = f"{BASE}/partners/pa/channels"


def remote_channel(index: int, status: str = "running", quality: str = "GREEN") -> dict:
    """Channel `ch{index}` as the Partner API lists it."""
    return {
        "id": f"ch{index}",
        "client_id": "clCL",
        "status": status,
        "current_quality_rating": quality,
        "current_limit": "TIER_1K",
        "setup_info": {"phone_number": f"+49 {index}", "phone_name": "Shop"},
        "client": {"id": "clCL", "name": "Acme"},
    }


def paged(channels: list[dict]):
    """A `responses` callback answering the channel list page by page, as `limit` and `offset` ask."""

    def answer(request):
        query = parse_qs(urlsplit(request.url).query)
        offset, limit = int(query["offset"][0]), int(query["limit"][0])
        page = channels[offset : offset + limit]
        return 200, {}, json.dumps({"partner_channels": page, "total": len(channels), "count": len(page)})

    return answer


def hold_lease(
    db: Database, *, host: str | None = None, pid: int | None = None, expires_in: float = 300, run_id: int | None = None
) -> None:
    """The sync lease as 'bob' holds it (by default from this very process, so alive)."""
    now = datetime.now(UTC)
    with db.atomic():
        db["sync_lease"].insert(
            {
                "name": LEASE_NAME,
                "token": "someone-else",
                "holder": "bob",
                "host": host or socket.gethostname(),
                "pid": pid or os.getpid(),
                "run_id": run_id,
                "acquired_at": (now - timedelta(seconds=10)).isoformat(timespec="microseconds"),
                "expires_at": (now + timedelta(seconds=expires_in)).isoformat(timespec="microseconds"),
            },
            replace=True,
        )
