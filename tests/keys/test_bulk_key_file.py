"""The file a bulk run's keys are downloaded as: every key named by its number, business and client."""

from __future__ import annotations

import csv
import io

from services.channels.projection import ensure_client, upsert_channel
from services.keys.bulk import KEY_CSV_COLUMNS, keys_csv

ADDRESS = "https://waba-v2.360dialog.io"


def test_every_key_in_the_file_names_its_number_business_and_client(db) -> None:
    # The old file held channel_id, api_key and address only: 79 keys no one could hand to their clients.
    ensure_client(db, "cafeCL", name="Café Olé")
    upsert_channel(
        db, "aCH", {"client_id": "cafeCL", "phone_number": "34600111222", "phone_name": "Cafe Ole"}, source="test"
    )
    upsert_channel(db, "bCH", {"client_id": "cafeCL", "phone_number": "34600111333"}, source="test")
    upsert_channel(db, "cCH", {"status": "running"}, source="test")
    keys = [
        {"channel_id": "aCH", "api_key": "key-a", "address": ADDRESS},
        {"channel_id": "bCH", "api_key": "key-b", "address": ADDRESS},
        {"channel_id": "cCH", "api_key": "key-c", "address": ADDRESS},
    ]
    rows = list(csv.DictReader(io.StringIO(keys_csv(db, keys))))
    assert tuple(rows[0]) == KEY_CSV_COLUMNS
    assert KEY_CSV_COLUMNS[:5] == ("number", "business", "channel_id", "client_id", "client_name")
    assert [(row["number"], row["business"], row["client_id"], row["client_name"]) for row in rows] == [
        ("34600111222", "Cafe Ole", "cafeCL", "Café Olé"),
        ("34600111333", "Café Olé", "cafeCL", "Café Olé"),
        ("", "", "", ""),
    ]
    assert [(row["channel_id"], row["api_key"], row["address"]) for row in rows] == [
        ("aCH", "key-a", ADDRESS),
        ("bCH", "key-b", ADDRESS),
        ("cCH", "key-c", ADDRESS),
    ]


def test_a_number_written_with_a_plus_cannot_run_as_a_formula(db) -> None:
    upsert_channel(db, "aCH", {"phone_number": "+34 600 111 222"}, source="test")
    (row,) = csv.DictReader(io.StringIO(keys_csv(db, [{"channel_id": "aCH", "api_key": "k", "address": ADDRESS}])))
    assert row["number"] == "'+34 600 111 222"
