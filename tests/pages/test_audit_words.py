"""The audit page in words: each channel by its number and business with a link, never a literal `None`, what
happened as a sentence, and a bulk run as one line that opens its own rows."""

from __future__ import annotations

import pytest

from services import audit
from services.channels.projection import upsert_channel
from tests.support.console import console_db
from tests.support.pages import close_session_db, page_app


@pytest.fixture
def app():
    test_app = page_app("audit.py")
    yield test_app
    close_session_db(test_app)


def _column(app, name: str) -> list:
    return list(app.dataframe[0].value[name])


def _shown(app) -> str:
    return app.dataframe[0].value.to_string()


def _bulk_run_of_three_keys(db_path) -> int:
    """A bulk run as the Channels page makes one: four rows per key, each naming the run."""
    with console_db(db_path) as db:
        db["clients"].insert({"id": "cA", "name": "Café Olé"})
        for index in range(3):
            upsert_channel(
                db, f"k{index}CH", {"status": "running", "phone_number": f"+34 600 111 22{index}", "client_id": "cA"},
                source="test",
            )  # fmt: skip
        with audit.bulk_run(db, operator="ann", role="operator", action="bulk_generate_keys") as run_id:
            for index in range(3):
                for action in ("generate_key", "check_key", "set_messaging_webhook", "read_back_webhook"):
                    audit.record(db, operator="ann", action=action, outcome="ok", channel_id=f"k{index}CH")
        audit.record(db, operator="ben", action="login", outcome="ok")
    return run_id


def test_channels_by_number_and_business_with_a_link_and_no_none(db_path, app) -> None:
    with console_db(db_path) as db:
        db["clients"].insert({"id": "cA", "name": "Café Olé"})
        upsert_channel(db, "aCH", {"phone_number": "+34 600 111 222", "client_id": "cA"}, source="test")
        audit.record(db, operator="ann", action="reveal_key", outcome="ok", channel_id="aCH")
        audit.record(db, operator="ann", action="demo_revoke", outcome="ok", channel_id="aCH")
        audit.record(db, operator="ben", action="login", outcome="refused")
    app.run()
    assert not app.exception
    assert _column(app, "what") == [
        "sign-in: refused",
        "demo: the client withdrew permission",
        "key shown to an operator",
    ]
    assert _column(app, "channel") == ["", "+34 600 111 222 (Café Olé)", "+34 600 111 222 (Café Olé)"]
    assert _column(app, "business")[1:] == ["Café Olé", "Café Olé"]
    assert _column(app, "open")[1:] == ["channels?open=aCH", "channels?open=aCH"]
    assert "None" not in _shown(app)
    assert all(value is not None for value in _column(app, "open")[1:])


def test_a_bulk_run_is_one_line_that_opens_its_rows(db_path, app) -> None:
    run_id = _bulk_run_of_three_keys(db_path)
    app.run()
    assert not app.exception
    assert _column(app, "what") == ["signed in", "keys generated in bulk"]
    [detail] = [d for d in _column(app, "detail") if d]
    assert detail == "3 channel(s), 12 step(s) · 12 rows: open the run to see each"
    assert _column(app, "open")[1] == f"audit?run={run_id}"

    app.query_params["run"] = str(run_id)
    app.run()
    assert len(_column(app, "what")) == 12
    assert set(_column(app, "business")) == {"Café Olé"}
    # A channel asked for shows its own rows of the run among the others.
    app.query_params.pop("run")
    app.text_input(key="channel").input("k1CH").run()
    assert _column(app, "what") == [
        "messaging webhook read back",
        "messaging webhook set",
        "key checked with 360dialog",
        "key generated",
    ]


def test_the_export_keeps_every_row_of_a_run(db_path) -> None:
    _bulk_run_of_three_keys(db_path)
    with console_db(db_path) as db:
        text = audit.audit_csv(db, audit.AuditFilter())
    assert len(text.strip().splitlines()) == 1 + 1 + 1 + 12  # header, the login, the run, its rows
