"""What a trusted redirect may change: permission on channels of its own client, and nothing else."""

from __future__ import annotations

from services.channels.projection import get_channel, record_granted, upsert_channel


def test_a_redirect_never_moves_a_channel_of_another_client(db) -> None:
    upsert_channel(db, "chA", {"client_id": "goodCL"}, source="webhook")
    with db.atomic():
        unusable = record_granted(db, "otherCL", ("chA",), ())
        record_granted(db, "otherCL", (), ("chA",))
    channel = get_channel(db, "chA")
    assert (channel["client_id"], channel["revoked"], unusable) == ("goodCL", 0, {})


def test_a_redirect_never_creates_a_channel(db) -> None:
    with db.atomic():
        record_granted(db, "cliX", ("chGhost",), ("chGhost2",))
    assert db["channels"].count == 0


def test_a_channel_with_no_client_yet_takes_the_redirects_client(db) -> None:
    upsert_channel(db, "chA", {"status": "pending"}, source="webhook")
    with db.atomic():
        record_granted(db, "cliX", ("chA",), ())
    channel = get_channel(db, "chA")
    assert (channel["client_id"], channel["permission"]) == ("cliX", "granted")
