"""A channel's view in AppTest: a number rated RED or FLAGGED shows the quality banner whatever came before (a
first known RED is no drop), and a GREEN one shows none."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.channels.projection import upsert_channel
from tests.support.console import console_db
from tests.support.pages import close_session_db, page_app


@pytest.fixture
def app(demo_mode: Path):
    test_app = page_app("channels.py")
    yield test_app
    close_session_db(test_app)


def _opened(app, db_path: Path, channel_id: str, quality: str | None):
    with console_db(db_path) as db, db.atomic():
        upsert_channel(db, channel_id, {"status": "running", "quality_rating": quality}, source="test")
    app.query_params["open"] = channel_id
    return app.run()


@pytest.mark.parametrize("rating", ["RED", "FLAGGED"])
def test_a_first_known_red_or_flagged_rating_shows_the_quality_banner(app, db_path, rating) -> None:
    _opened(app, db_path, "firstCH", rating)
    assert not app.exception
    banners = [element.value.replace("\\", "") for element in app.warning if "Quality alert" in element.value]
    assert banners == [f"Quality alert: quality is {rating} (no earlier rating known)"]


def test_a_green_number_shows_no_quality_banner(app, db_path) -> None:
    _opened(app, db_path, "greenCH", "GREEN")
    assert not app.exception
    assert not [element.value for element in app.warning if "Quality alert" in element.value]
