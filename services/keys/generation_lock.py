"""A per-channel lock held for as long as a key generation is under way, across processes.

The operating system releases it when its process dies, however it dies; so a 'pending' attempt whose
lock is free was abandoned (the process was killed after the request may have left), not in progress.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from services.store import database_file, private_dir, private_file


class LockBusy(Exception):
    """Another process (or thread) holds this channel's generation lock."""


def _lock_path(db: Database, channel_id: str) -> Path | None:
    path = database_file(db)
    if path is None:
        return None
    # Hashed: a channel id is untrusted text and must not shape a file name.
    digest = hashlib.sha256(channel_id.encode()).hexdigest()[:32]
    return private_file(private_dir(path.parent / "locks") / f"key-{digest}.lock")


@contextlib.contextmanager
def hold_generation_lock(db: Database, channel_id: str) -> Iterator[None]:
    """Hold the channel's lock without waiting; raise LockBusy when someone else holds it."""
    path = _lock_path(db, channel_id)
    if path is None:  # an in-memory database lives in one process: the pending row's unique index suffices
        yield
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(channel_id) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_abandoned(db: Database, channel_id: str) -> bool:
    """True when nobody holds the channel's lock, so a pending attempt for it belongs to a dead process."""
    try:
        with hold_generation_lock(db, channel_id):
            return _lock_path(db, channel_id) is not None
    except LockBusy:
        return False
