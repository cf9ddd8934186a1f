"""CSV exports: no cell from a payload may run as a formula in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest

from services.events.store import EventFilter, events_csv
from services.events.webhook import parse_webhook_body
from services.spreadsheet import csv_text, neutralise
from tests.support.events import save_events


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_starts_like_a_formula_is_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["chA1", "a=b", " =1", "", 12, None])
def test_other_cells_stay_as_they_are(cell) -> None:
    assert neutralise(cell) == cell


def test_csv_text_writes_every_row_neutralised() -> None:
    text = csv_text(["a", "b"], [{"a": "=1+1", "b": "ok"}, {"a": "x", "b": "@me"}])
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["'=1+1", "ok"], ["x", "'@me"]]


def test_the_events_export_neutralises_a_payloads_formula(db) -> None:
    body = b'{"id": "e1", "event": "=cmd|\' /C calc\'!A0", "data": {"id": "chA1"}}'
    with db.atomic():
        save_events(db, parse_webhook_body(body), headers={}, verdict="valid")
    rows = list(csv.DictReader(io.StringIO(events_csv(db, EventFilter()))))
    assert rows[0]["event_type"].startswith("'=")
