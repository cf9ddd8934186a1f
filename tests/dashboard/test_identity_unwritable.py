"""No widget and no query parameter can change who is signed in.

The old behaviour: the Audit page's "Operator" filter used the same session key as the signed-in name, so
choosing "All" made the sidebar say "Signed in as All" and the next action was audited as "All". Here a
signed-in person goes over every page's widgets, set to each option or a hostile value, and opens each page with
query parameters named like identity keys; the sidebar still names the same person in the same role.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.context import SESSION_TOKEN_KEY, SSO_FIRST_SEEN_KEY
from services import audit
from services.accounts import VIEWER, add_account, command_line_person
from services.settings_rules import ACCESS_ROLES
from tests.support.console import console_db, use_live
from tests.support.pages import PAGES, close_session_db, console_app

PASSWORD = "correct horse battery staple"
SIGNED_IN = "Signed in as vera · viewer"
# Names a widget or the URL might use for who is acting, and values one would write there.
IDENTITY_KEYS = ("operator", "person", "role", "user", "who", "account", SESSION_TOKEN_KEY, SSO_FIRST_SEEN_KEY)
HOSTILE = ("All", "scheduler", "admin", "demo", "dora")
LIVE_PAGES = (
    "home.py",
    "connect.py",
    "redirects.py",
    "events.py",
    "channels.py",
    "clients.py",
    "receiver.py",
    "audit.py",
)
PAGES_ALSO = ("alerts.py",)
WIDGETS = ("selectbox", "multiselect", "radio", "text_input", "text_area", "toggle", "checkbox", "number_input")


def signed_in_as(at: AppTest) -> str | None:
    return next((text.value for text in at.sidebar.text if " as " in text.value), None)


@pytest.fixture
def viewer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A live console with a viewer signed in, and audit rows naming others (the Audit filter offers them)."""
    use_live(monkeypatch, tmp_path, PASSWORD)
    with console_db(tmp_path / "console.db") as db:
        add_account(db, command_line_person("tests"), "vera", PASSWORD, VIEWER)
        for name in ("scheduler", "dora"):
            audit.record(db, operator=name, action="sync", outcome="ok")
    at = console_app().run()
    at.text_input[0].input("vera")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert signed_in_as(at) == SIGNED_IN
    yield at
    close_session_db(at)


def _values(kind: str, widget) -> list[object]:
    if kind in {"selectbox", "radio"}:
        # The Audit page offers "All", "scheduler" and "dora" (the fixture's audit rows name them).
        return list(widget.options)
    if kind == "multiselect":
        return [list(widget.options), []]
    if kind in {"toggle", "checkbox"}:
        return [True, False]
    if kind == "number_input":
        return [0]
    return list(HOSTILE)


def _set(at: AppTest, kind: str, index: int, value: object) -> None:
    getattr(at, kind)[index].set_value(value)
    at.run()


@pytest.mark.parametrize("page", [*LIVE_PAGES, *PAGES_ALSO])
def test_no_widget_on_any_page_changes_who_is_signed_in(viewer: AppTest, page: str) -> None:
    viewer.switch_page(f"../pages/{page}").run()
    touched = 0
    for kind in WIDGETS:
        for index in range(len(getattr(viewer, kind))):
            for value in _values(kind, getattr(viewer, kind)[index]):
                if index >= len(getattr(viewer, kind)):
                    break  # the page changed under the last value; the next page run starts afresh
                _set(viewer, kind, index, value)
                touched += 1
                assert signed_in_as(viewer) == SIGNED_IN, (page, kind, index, value)
    assert not viewer.exception, [element.value for element in viewer.exception]
    if page == "audit.py":
        assert touched >= len(HOSTILE) + 3, "the Audit page's filters were all tried"


@pytest.mark.parametrize("page", [*LIVE_PAGES, *PAGES_ALSO])
def test_no_query_parameter_changes_who_is_signed_in(viewer: AppTest, page: str) -> None:
    for key in IDENTITY_KEYS:
        for value in HOSTILE:
            viewer.query_params[key] = value
    viewer.switch_page(f"../pages/{page}").run()
    assert signed_in_as(viewer) == SIGNED_IN
    viewer.run()
    assert signed_in_as(viewer) == SIGNED_IN


def test_every_page_is_tried() -> None:
    pages = {path.name for path in PAGES.glob("*.py")}
    assert pages - {*LIVE_PAGES, *PAGES_ALSO} == {"landing.py", "demo.py"}


@pytest.mark.parametrize("role", ACCESS_ROLES)
def test_each_role_meets_each_page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, role: str) -> None:
    use_live(monkeypatch, tmp_path, PASSWORD)
    with console_db(tmp_path / "console.db") as db:
        add_account(db, command_line_person("tests"), "rita", PASSWORD, role, "Rita Reis")
    at = console_app().run()
    at.text_input[0].input("rita")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    try:
        for page in (*LIVE_PAGES, *PAGES_ALSO):
            at.switch_page(f"../pages/{page}").run()
            assert not at.exception, (role, page, [element.value for element in at.exception])
            assert signed_in_as(at) == f"Signed in as Rita Reis · {role}"
    finally:
        close_session_db(at)
