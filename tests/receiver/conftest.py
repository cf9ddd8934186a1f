"""A batch writer on the test's console database, its statements traced to count commits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.receiver.group_commit import BatchWriter
from tests.support.writer import TracedOpen


@pytest.fixture
def traced() -> TracedOpen:
    return TracedOpen()


@pytest.fixture
def writer(db_path: Path, traced: TracedOpen) -> Iterator[BatchWriter]:
    writer = BatchWriter(db_path, busy_timeout_seconds=0.2, open_db=traced)
    yield writer
    writer.close()
