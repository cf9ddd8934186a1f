"""Typed numbers read by phonenumbers, the default region checked, and the database's national numbers as
phonenumbers reads them."""

from __future__ import annotations

import pytest

from services.events.console_search import read_search
from services.migrations import phone_national_sql
from services.phone_numbers import check_region, national_number, read_number
from services.settings import SettingsError, load_settings


def test_the_readings_of_a_typed_number() -> None:
    assert read_number("0034 600-111-222").international == ("34600111222",)
    assert read_number("+34 600 111 222").national is None
    national = read_number("600111222", "ES")
    assert national.national == "600111222"
    assert "34600111222" in national.international
    assert "34600111222" in read_number("34600111222").international
    assert read_number("cafe") is None
    assert read_number("12") is None
    assert read_search("Café Olé").names == '"Café"* "Olé"*'


def test_the_region_setting_is_checked() -> None:
    assert check_region(" es ") == "ES"
    with pytest.raises(ValueError, match="CONSOLE_PHONE_REGION"):
        check_region("Spain")


@pytest.mark.parametrize(
    "digits",
    ["34600111222", "4915123456789", "12025550123", "79161234567", "393471234567", "35512345678", "3538612345"],
)
def test_the_database_reads_national_numbers_as_phonenumbers_does(db, digits: str) -> None:
    (computed,) = db.execute(f"select {phone_national_sql(repr(digits))}").fetchone()
    assert computed == national_number(digits)


def test_the_region_is_a_setting(tmp_path) -> None:
    def settings(**env: str):
        return load_settings({"CONSOLE_DATA_DIR": str(tmp_path), **env}, secrets_path=tmp_path / "none.toml")

    assert settings().phone_region == "DE"
    assert settings(CONSOLE_PHONE_REGION="es").phone_region == "ES"
    with pytest.raises(SettingsError, match="CONSOLE_PHONE_REGION"):
        settings(CONSOLE_PHONE_REGION="Spain")


def test_a_number_is_read_in_the_region_given(db) -> None:
    from services.channels.projection import upsert_channel
    from services.read_models.channel_list import ChannelFilter, page_channels

    with db.atomic():
        upsert_channel(db, "uk1CH", {"phone_number": "+44 7700 900123"}, source="test")
    # 011 is how the United States dials abroad; in Germany it starts a national number.
    typed = "011 44 7700 900123"
    assert [row["id"] for row in page_channels(db, ChannelFilter(search=typed, region="US"))] == ["uk1CH"]
    assert page_channels(db, ChannelFilter(search=typed, region="DE")) == []
    # A national number with its trunk 0 finds the number whatever the region.
    assert [row["id"] for row in page_channels(db, ChannelFilter(search="07700 900123", region="GB"))] == ["uk1CH"]
