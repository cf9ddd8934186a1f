"""A row chosen on the Channels page reruns the whole page to open its channel: that run shows the work queue the
choice was made in, read once for both runs, not read again."""

from __future__ import annotations

import pytest

from dashboard import channel_workbench
from tests.support.pages import page_app


@pytest.fixture
def queue_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    read = channel_workbench.work_queue

    def counted(*args, **kwargs):
        reads.append("read")
        return read(*args, **kwargs)

    monkeypatch.setattr(channel_workbench, "work_queue", counted)
    return reads


def _choosing(monkeypatch: pytest.MonkeyPatch, channel_id: str | None) -> None:
    """The queue's selected row names `channel_id` (a grid's selection cannot be clicked in AppTest)."""
    monkeypatch.setattr(
        channel_workbench, "selected_id", lambda _table, ids_key: channel_id if ids_key == "queue_ids" else None
    )


def test_a_row_chosen_opens_its_channel_with_the_queue_read_once(monkeypatch, sessions, queue_reads) -> None:
    _choosing(monkeypatch, "chChosen")
    app = page_app("channels.py")
    sessions.append(app)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.query_params["open"] == "chChosen"
    assert queue_reads == ["read"]
    assert channel_workbench.QUEUE_JUST_READ not in app.session_state


def test_every_other_run_reads_the_queue_afresh(monkeypatch, sessions, queue_reads) -> None:
    _choosing(monkeypatch, None)
    app = page_app("channels.py")
    sessions.append(app)
    app.run()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert queue_reads == ["read", "read"]
