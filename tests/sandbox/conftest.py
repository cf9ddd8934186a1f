"""The sandbox hub's own database, in memory, closed after the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlite_utils import Database

from services.sandbox import state


@pytest.fixture
def sandbox_db() -> Iterator[Database]:
    database = state.open_sandbox_db(":memory:")
    yield database
    database.close()
