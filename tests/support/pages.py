"""The console in Streamlit's AppTest: the whole app (login gate and navigation included) or one page alone."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import context
from services.accounts import Person
from tests.support import ROOT

APP = ROOT / "dashboard" / "app.py"
PAGES = ROOT / "pages"
TIMEOUT = 60


def console_app() -> AppTest:
    """The whole console, as `streamlit run dashboard/app.py` serves it; `switch_page("../pages/x.py")` moves on."""
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT)


def page_app(name: str) -> AppTest:
    """One page script of pages/ on its own, without the console's navigation."""
    return AppTest.from_file(str(PAGES / name), default_timeout=TIMEOUT)


def close_session_db(app: AppTest) -> None:
    """The pages keep one database connection per session; close it so the test leaves nothing open."""
    if "db" in app.session_state:
        app.session_state["db"].close()


def new_link(app: AppTest) -> AppTest:
    """On the Connect page: press "New link" (the page makes no link until asked) and run."""
    next(button for button in app.button if button.label == "New link").click().run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def as_person(monkeypatch: pytest.MonkeyPatch, person: Person) -> None:
    """Every page (and dashboard/ helper) run from now on acts as `person`, whatever signed in: the one place
    that knows where the console keeps the signed-in identity."""
    monkeypatch.setattr(context, "current_person", lambda: person)
