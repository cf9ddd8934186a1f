"""The console's web server: `python -m dashboard.server [streamlit flags]` (the stack starts it so).

Streamlit's own app (dashboard/app.py, the pages) served as an `st.App`, with the console's edge around it
(dashboard/edge.py): the source address as CONSOLE_TRUSTED_PROXIES says, internal routes closed, no
server internals in a session's first message, security headers; and the console's own routes that set and
clear a password account's session cookie (dashboard/session_cookie.py), and the link a client clicks, signed
at each click (dashboard/link_route.py).

uvicorn, which Streamlit runs, would rewrite a request's client from `X-Forwarded-For` itself whenever the
peer is on loopback (its FORWARDED_ALLOW_IPS default), before any middleware could see the real peer. So
this launcher tells it to trust no peer, and the edge alone reads the header, from the proxies the settings
name. Served any other way, the module refuses to load rather than count sources uvicorn's way.

Streamlit loads this file (and dashboard/app.py) by path, adding only their folder to sys.path; `python -m`,
run from the project root as the stack does, has already put the root there, so `dashboard` and `services`
import as packages.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from starlette.middleware import Middleware
from streamlit.starlette import App

from dashboard.edge import ConsoleEdge
from dashboard.link_route import link_routes
from dashboard.session_cookie import session_routes
from services.addresses import Network
from services.settings import SettingsError, load_settings

# uvicorn reads this once, when its config is made: trust no peer's X-Forwarded-For (an empty list).
UVICORN_TRUSTS_NO_PROXY = ""
UVICORN_TRUST_VARIABLE = "FORWARDED_ALLOW_IPS"


def trusted_proxies() -> tuple[Network, ...]:
    """The proxies the settings name; none when the settings are wrong (the page then says what is wrong)."""
    try:
        return load_settings().trusted_proxies
    except SettingsError:
        return ()


def main(argv: list[str] | None = None) -> None:
    """Run Streamlit on this module's app, with uvicorn told to leave X-Forwarded-For to the edge."""
    os.environ[UVICORN_TRUST_VARIABLE] = UVICORN_TRUSTS_NO_PROXY
    from streamlit.web import cli

    cli.main(args=["run", __file__, *(sys.argv[1:] if argv is None else argv)], prog_name="streamlit")


if __name__ == "__main__":
    main()
else:
    if os.environ.get(UVICORN_TRUST_VARIABLE) != UVICORN_TRUSTS_NO_PROXY:
        raise SystemExit(
            "Start the console with `python -m dashboard.server` (or `python -m services.stack`): served otherwise, "
            "uvicorn would take a loopback peer's X-Forwarded-For as the visitor's address."
        )
    app = App(
        Path(__file__).with_name("app.py"),
        routes=[*session_routes(), *link_routes()],
        middleware=[Middleware(ConsoleEdge, trusted_proxies())],
    )
