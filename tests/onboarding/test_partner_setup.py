"""`python -m services.onboarding.partner_setup` against the sandbox hub on real HTTP: it shows what is
registered, never replaces a different webhook URL without --force, says what changed from what to what, and
says where the custom auth header is set. A URL's token never reaches the output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from services.onboarding.partner_setup import (
    CUSTOM_HEADER_NOTE,
    EXIT_REFUSED,
    DifferentUrlRegistered,
    check_replaceable,
    main,
    shown,
)
from tests.support.sandbox_hub import Hub, start_hub

pytestmark = pytest.mark.processes  # the sandbox hub and a receiver on uvicorn

OURS = "https://hooks.example.com/webhooks/360dialog"
LANDING = "https://console.example.com/landing"
OTHER = "https://other.example.com/hook?token=other-secret-token"


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path / "hub")
        # The hub's own demo settings and secrets: the command talks to it as to 360dialog.
        for key, value in {
            "CONSOLE_MODE": "demo",
            "CONSOLE_DATA_DIR": str(tmp_path / "hub"),
            "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml"),
            "SANDBOX_URL": hub.url,
            "CONSOLE_RECEIVER_URL": "https://hooks.example.com",
            "CONSOLE_PUBLIC_URL": "https://console.example.com",
        }.items():
            monkeypatch.setenv(key, value)
        yield hub


def registered(hub: Hub) -> str | None:
    api = hub.api()
    try:
        return api.get_webhook_url()
    finally:
        api.close()


def register_elsewhere(hub: Hub, url: str) -> None:
    api = hub.api()
    try:
        api.set_webhook_url(url)
    finally:
        api.close()


def test_without_apply_it_only_shows_and_names_where_the_header_is_set(hub: Hub, capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "webhook URL at 360dialog now: (none)" in out
    assert "redirect URL at 360dialog now: (not readable through the Partner API)" in out
    assert f"this console's webhook URL: {OURS}" in out
    assert CUSTOM_HEADER_NOTE in out
    assert registered(hub) is None


def test_apply_sets_both_and_says_from_what_to_what(hub: Hub, capsys) -> None:
    assert main(["--apply"]) == 0
    out = capsys.readouterr().out
    assert f"webhook URL: (none) -> {OURS}" in out
    assert f"redirect URL: (not readable through the Partner API) -> {LANDING}" in out
    assert CUSTOM_HEADER_NOTE in out
    assert registered(hub) == OURS
    assert main(["--apply"]) == 0, "its own URL again is no conflict"
    assert f"webhook URL: unchanged, {OURS}" in capsys.readouterr().out


def test_a_different_url_stays_without_force(hub: Hub, capsys) -> None:
    # The old behaviour: --apply overwrote whatever was registered, without saying what it was.
    register_elsewhere(hub, OTHER)
    assert main(["--apply"]) == EXIT_REFUSED
    captured = capsys.readouterr()
    assert "https://other.example.com/hook?[query hidden]" in captured.err
    assert OURS in captured.err
    assert "--force" in captured.err
    assert CUSTOM_HEADER_NOTE in captured.out
    assert "other-secret-token" not in captured.out + captured.err
    assert registered(hub) == OTHER


def test_force_replaces_it_and_says_what_was_there(hub: Hub, capsys) -> None:
    register_elsewhere(hub, OTHER)
    assert main(["--apply", "--force"]) == 0
    out = capsys.readouterr().out
    assert f"webhook URL: https://other.example.com/hook?[query hidden] -> {OURS}" in out
    assert "other-secret-token" not in out
    assert registered(hub) == OURS


@pytest.mark.parametrize(
    ("registered_url", "force", "refused"),
    [(None, False, False), ("", False, False), (OURS, False, False), (OTHER, False, True), (OTHER, True, False)],
)
def test_check_replaceable(registered_url: str | None, force: bool, refused: bool) -> None:
    if refused:
        with pytest.raises(DifferentUrlRegistered) as raised:
            check_replaceable(registered_url, OURS, force=force)
        assert "other-secret-token" not in str(raised.value)
        assert OURS in str(raised.value)
    else:
        check_replaceable(registered_url, OURS, force=force)


def test_shown_hides_credentials_and_query() -> None:
    assert (
        shown("https://user:pass@hooks.example.com/x?token=t")
        == "https://[credentials hidden]@hooks.example.com/x?[query hidden]"
    )
    assert shown("") == "(none)"
    assert shown(None) == "(not readable through the Partner API)"
