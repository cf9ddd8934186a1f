"""CONSOLE_ALERT_URLS: read like every setting, kept like every secret (shown by scheme and host only), checked
with apprise when the scheduler starts, and pointed at the sandbox hub's inbox by default in demo mode only."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.alerts.destinations import check_usable, describe, destinations, redact
from services.settings import SettingsError, alert_urls, load_settings
from tests.support.console import live_env

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops"
MAIL = "mailtos://ops:s3cret-mail-pass@smtp.example.com:587?to=a@example.com,b@example.com"


def _demo(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"), **extra}


def test_urls_are_split_on_commas_or_spaces_but_not_inside_a_url() -> None:
    raw = f"{MAIL}, json://127.0.0.1:9/hook\n  {SLACK},"
    assert alert_urls(raw) == (MAIL, "json://127.0.0.1:9/hook", SLACK)
    assert alert_urls("off") == alert_urls("") == alert_urls(None) == ()
    # Words between two URLs belong to the one before: that one is then not a URL.
    with pytest.raises(SettingsError, match="CONSOLE_ALERT_URLS: item 2 is not a URL") as raised:
        alert_urls(f"json://127.0.0.1:9/hook {SLACK} s3cret-not-a-url")
    assert "s3cret" not in str(raised.value)


def test_each_destination_shows_its_scheme_and_host_never_its_secrets() -> None:
    labels = {url: describe(url).label for url in (MAIL, SLACK, "json://u:pw-123456@127.0.0.1:8503/sandbox/inbox")}
    assert labels[MAIL] == "mailtos://smtp.example.com:587"
    # apprise keeps Slack's first token where a host would be: the service is named instead.
    assert labels[SLACK] == "slack:// (Slack)"
    assert labels["json://u:pw-123456@127.0.0.1:8503/sandbox/inbox"] == "json://127.0.0.1:8503"
    assert "s3cret" not in repr(describe(MAIL))
    assert describe(SLACK).key == describe(SLACK).key != describe(MAIL).key


def test_a_url_apprise_cannot_use_stops_the_start_naming_its_position_only() -> None:
    found = destinations([SLACK, "nosuchservice://token-abcdef123/x"])
    assert [item.usable for item in found] == [True, False]
    with pytest.raises(SettingsError) as raised:
        check_usable(found)
    assert (
        str(raised.value)
        == "CONSOLE_ALERT_URLS: apprise cannot use item 2 (nosuchservice:// (not understood by apprise))"
    )


def test_what_went_wrong_is_told_without_the_urls_secrets() -> None:
    text = redact(
        "POST to T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ failed; token TIiajkdnlazkcOXrIdevi7FQ refused", SLACK
    )
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in text
    assert "A1BRTD4JD" not in text
    assert redact('Connection error to "smtp.example.com" as ops:s3cret-mail-pass', MAIL) == (
        'Connection error to "smtp.example.com" as ***'
    )


def test_demo_mode_sends_to_the_hubs_inbox_unless_told_otherwise(tmp_path: Path) -> None:
    demo = load_settings(_demo(tmp_path, SANDBOX_URL="http://127.0.0.1:9503"))
    assert demo.alerts.urls == ("json://127.0.0.1:9503/sandbox/inbox",)
    assert demo.alerts.enabled
    assert load_settings(_demo(tmp_path, SANDBOX_URL="https://hub.test")).alerts.urls == (
        "jsons://hub.test/sandbox/inbox",
    )
    assert not load_settings(_demo(tmp_path, CONSOLE_ALERT_URLS="off")).alerts.enabled
    assert load_settings(_demo(tmp_path, CONSOLE_ALERT_URLS=SLACK)).alerts.urls == (SLACK,)


def test_live_mode_has_no_destination_unless_set_and_only_the_console_and_scheduler_hold_one(tmp_path: Path) -> None:
    env = live_env(tmp_path, "correct horse battery staple")
    assert load_settings(env).alerts.urls == ()
    env["CONSOLE_ALERT_URLS"] = MAIL
    for role in ("console", "scheduler"):
        settings = load_settings(env, role=role)
        assert settings.alerts.urls == (MAIL,)
        assert "s3cret" not in repr(settings)
    assert load_settings(env, role="receiver").alerts.urls == ()


def test_rules_and_thresholds_are_settings(tmp_path: Path) -> None:
    settings = load_settings(
        _demo(
            tmp_path,
            CONSOLE_STUCK_AFTER_MINUTES="45",
            CONSOLE_ALERT_QUALITY_DROP="off",
            CONSOLE_ALERT_REJECTIONS_COUNT="5",
            CONSOLE_ALERT_DIGEST_MINUTES="10",
            CONSOLE_ALERT_MAX_PER_HOUR="7",
        )
    ).alerts
    assert (settings.quality_drop, settings.stuck, settings.stuck_minutes) == (False, True, 45.0)
    assert (settings.rejections_count, settings.digest_minutes, settings.max_per_hour) == (5, 10.0, 7)
    assert (settings.check_seconds, settings.retry_seconds, settings.max_attempts) == (30.0, 30.0, 8)
    with pytest.raises(SettingsError, match="CONSOLE_ALERT_MAX_PER_HOUR must be at least 1"):
        load_settings(_demo(tmp_path, CONSOLE_ALERT_MAX_PER_HOUR="0"))
    with pytest.raises(SettingsError, match="CONSOLE_ALERT_HEARTBEAT must be true or false"):
        load_settings(_demo(tmp_path, CONSOLE_ALERT_HEARTBEAT="sometimes"))
