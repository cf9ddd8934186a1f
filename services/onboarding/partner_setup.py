"""Tell 360dialog where this console lives: the partner webhook URL and the redirect URL.

`python -m services.onboarding.partner_setup` shows what 360dialog has now; with `--apply` it sets the webhook
URL to the receiver's (`CONSOLE_RECEIVER_URL` + /webhooks/360dialog) and the partner redirect URL to the
console's landing page (`CONSOLE_PUBLIC_URL` + /landing), through the Partner API (contract section 4).
A partner has one webhook URL: a different one registered there is replaced only with `--force`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from services.messaging_api import redacted_url
from services.partner_api import PartnerApi, PartnerApiError, operator_message
from services.settings import Settings, SettingsError, load_settings

EXIT_REFUSED = 3
NONE_SHOWN = "(none)"
# The Partner API reads the webhook URL back (GET /webhook_url), never the redirect URL.
REDIRECT_NOT_READABLE = "(not readable through the Partner API)"
CUSTOM_HEADER_NOTE = (
    "Custom auth header: the Partner API cannot set it. If the receiver checks one (RECEIVER_AUTH_HEADER_NAME/"
    "_VALUE), set the same name and value in 360dialog's Partner Hub, where the partner webhook is configured."
)


@dataclass(frozen=True)
class Change:
    what: str
    before: str | None
    after: str | None

    def line(self) -> str:
        if self.before == self.after:
            return f"{self.what}: unchanged, {shown(self.after)}"
        return f"{self.what}: {shown(self.before)} -> {shown(self.after)}"


class DifferentUrlRegistered(Exception):
    """Another webhook URL is registered: replacing it would take every partner event from wherever it goes now."""

    def __init__(self, registered: str, wanted: str) -> None:
        super().__init__(
            f"360dialog sends this partner's webhooks to {redacted_url(registered)}, not to this console's "
            f"{redacted_url(wanted)}. A partner has one webhook URL: run again with --force to replace it."
        )


def shown(url: str | None) -> str:
    """A URL as this tool prints it: a token in its query or credentials stay hidden."""
    if url is None:
        return REDIRECT_NOT_READABLE
    return redacted_url(url) if url else NONE_SHOWN


def check_replaceable(registered: str | None, wanted: str, *, force: bool) -> None:
    """Raise DifferentUrlRegistered when another URL is registered and `force` is not given."""
    if registered and registered != wanted and not force:
        raise DifferentUrlRegistered(registered, wanted)


def register(api: PartnerApi, settings: Settings, *, force: bool = False) -> list[Change]:
    """Point 360dialog at this console; what changed, from what 360dialog reported before to after.

    Raises DifferentUrlRegistered, changing nothing, when another webhook URL is registered and `force` is not given."""
    before = api.get_webhook_url() or ""
    check_replaceable(before, settings.webhook_url, force=force)
    answer: dict[str, Any] = api.update_partner(
        webhook_url=settings.webhook_url, partner_redirect_url=settings.landing_url
    )
    after = api.get_webhook_url() or ""
    redirect_after = answer.get("partner_redirect_url") if isinstance(answer, dict) else None
    return [
        Change("webhook URL", before, after),
        Change("redirect URL", None, redirect_after if isinstance(redirect_after, str) else settings.landing_url),
    ]


def _show_now(api: PartnerApi, settings: Settings) -> None:
    print(f"webhook URL at 360dialog now: {shown(api.get_webhook_url() or '')}")
    print(f"redirect URL at 360dialog now: {REDIRECT_NOT_READABLE}")
    print(f"this console's webhook URL: {shown(settings.webhook_url)}")
    print(f"this console's redirect URL: {shown(settings.landing_url)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.onboarding.partner_setup", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--apply", action="store_true", help="set both URLs (without it, only show them)")
    parser.add_argument("--force", action="store_true", help="with --apply: replace a different webhook URL")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        api = PartnerApi.from_settings(settings)
    except (SettingsError, ValueError) as error:
        print(f"partner_setup: {error}", file=sys.stderr)
        return 2
    try:
        _show_now(api, settings)
        if args.apply:
            for change in register(api, settings, force=args.force):
                print(change.line())
        print(CUSTOM_HEADER_NOTE)
    except DifferentUrlRegistered as refusal:
        print(f"partner_setup: {refusal}", file=sys.stderr)
        print(CUSTOM_HEADER_NOTE)
        return EXIT_REFUSED
    except PartnerApiError as error:
        print(f"partner_setup: {operator_message(error)}", file=sys.stderr)
        return 1
    finally:
        api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
