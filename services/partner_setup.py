"""Tell 360dialog where this console lives: the partner webhook URL and the redirect URL.

`python -m services.partner_setup` shows what 360dialog has now; with `--apply` it sets the webhook URL
to the receiver's (`CONSOLE_RECEIVER_URL` + /webhooks/360dialog) and the partner redirect URL to the
console's landing page (`CONSOLE_PUBLIC_URL` + /landing), through the Partner API (contract section 4).
"""

from __future__ import annotations

import argparse
import sys

from services.partner_api import PartnerApi, PartnerApiError, operator_message
from services.settings import Settings, SettingsError, load_settings


def register(api: PartnerApi, settings: Settings) -> dict[str, str | None]:
    """Point 360dialog at this console; returns the partner's URLs as 360dialog then reports them."""
    api.update_partner(webhook_url=settings.webhook_url, partner_redirect_url=settings.landing_url)
    return {"webhook_url": api.get_webhook_url(), "partner_redirect_url": settings.landing_url}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.partner_setup", description=__doc__.splitlines()[0])
    parser.add_argument("--apply", action="store_true", help="set both URLs (without it, only show them)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        api = PartnerApi.from_settings(settings)
    except (SettingsError, ValueError) as error:
        print(f"partner_setup: {error}", file=sys.stderr)
        return 2
    try:
        print(f"webhook URL at 360dialog now: {api.get_webhook_url() or '(none)'}")
        print(f"this console's webhook URL:   {settings.webhook_url}")
        print(f"this console's redirect URL:  {settings.landing_url}")
        if args.apply:
            registered = register(api, settings)
            print(f"set: webhook URL {registered['webhook_url']}, redirect URL {registered['partner_redirect_url']}")
    except PartnerApiError as error:
        print(f"partner_setup: {operator_message(error)}", file=sys.stderr)
        return 1
    finally:
        api.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
