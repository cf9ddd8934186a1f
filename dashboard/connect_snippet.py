"""The `<ConnectButton .../>` of the official `360dialog-connect-button` package that matches a link, or, for a
console link (signed at each click), plain HTML that opens it.

Plain text building, no Streamlit: the partner's own developers paste it into their React app or page.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping

# The package's `env` option names the same hosts as this console's environments, except production
# (its default, so no option) and the sandbox (this console's stand-in, unknown to the package).
PACKAGE_ENVIRONMENTS = {"staging": "staging", "rc": "rc", "local": "local"}
# Set per link by the partner's server, never written into page code.
PER_LINK_PARAMETERS = ("state", "io_signature", "io_timestamp")


def _js_string(value: str) -> str:
    # JSON string literals are valid JavaScript; `<` is escaped so that the text is also safe inside HTML.
    return json.dumps(value).replace("<", "\\u003c")


def connect_button_snippet(
    partner_id: str,
    *,
    env: str = "prod",
    version: str = "v1",
    number: str | None = None,
    params: Mapping[str, str] | None = None,
) -> str:
    """JSX for the official button with the same options; signature and state left to the partner's server."""
    lines = [
        'import { ConnectButton } from "360dialog-connect-button";',
        "",
        "// handleCallback receives { client, channels, revokedChannels } when onboarding ends.",
    ]
    given = {name: value for name, value in (params or {}).items() if value not in (None, "")}
    per_link = [name for name in PER_LINK_PARAMETERS if name in given]
    if per_link or env == "sandbox":
        lines.append("// state, io_signature and io_timestamp: create fresh ones on your server for every link.")
    if env == "sandbox":
        lines.append("// The sandbox hub is this console's stand-in for 360dialog; the package cannot point at it.")
    lines.append("<ConnectButton")
    lines.append(f"  partnerId={{{_js_string(partner_id)}}}")
    lines.append("  callback={handleCallback}")
    if number:
        lines.append(f"  requestedNumber={{{_js_string(number)}}}")
    if env in PACKAGE_ENVIRONMENTS:
        lines.append(f"  env={{{_js_string(PACKAGE_ENVIRONMENTS[env])}}}")
    if version != "v1":
        lines.append(f"  version={{{_js_string(version)}}}")
    shared = {name: value for name, value in given.items() if name not in PER_LINK_PARAMETERS}
    if shared:
        lines.append("  queryParameters={{")
        lines.extend(f"    {name}: {_js_string(str(value))}," for name, value in shared.items())
        lines.append("  }}")
    lines.append("/>")
    return "\n".join(lines)


def console_link_snippet(url: str) -> str:
    """HTML for a console link: a button that opens it in the official button's 600x920 popup (a new tab when
    popups are blocked). The official package cannot carry it: it builds the hub link, and signs nothing."""
    href = html.escape(url, quote=True)
    return "\n".join(
        [
            "<!-- Signed by the console at each click: the link stays valid for every attempt until it expires. -->",
            f'<a href="{href}" target="_blank" rel="noopener"',
            "   onclick=\"return !window.open(this.href, 'd360_connect', 'width=600,height=920')\">",
            "  Connect your WhatsApp number",
            "</a>",
        ]
    )
