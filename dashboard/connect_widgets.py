"""Widgets of the Connect and landing pages: the popup button, the QR code, the popup closer, a redirect's
channels each linked to its own view."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.plain_text import escape_markdown
from dashboard.qr_code import qr_png, qr_svg
from dashboard.widgets import key_badge, status_badge

# page_link resolves paths against the entry script's folder (dashboard/); an absolute path is unambiguous.
CHANNELS_PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "channels.py")
REDIRECTS_PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "redirects.py")
CLIENTS_PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "clients.py")
# The URL parameter that opens one channel (/channels?open=<id>) or one client (/clients?open=<id>).
OPEN = "open"
REDIRECT_COLUMNS = {
    "number": "number",
    "name": "display name",
    "status": "status",
    "key": "key",
    "permission": "permission",
    "next": "next",
    "channel": "channel id",
}
# The official button's popup size.
POPUP_WIDTH = 600
POPUP_HEIGHT = 920
POPUP_NAME = "d360_connect"

_POPUP_BUTTON = """<!doctype html><html><head><style>
body{{margin:0;font-family:"Source Sans Pro",system-ui,sans-serif}}
button{{background:#00a884;color:#fff;border:0;border-radius:8px;padding:9px 16px;font-size:1rem;cursor:pointer}}
button:focus-visible{{outline:3px solid #0b6e5a;outline-offset:2px}}
</style></head><body>
<button id="open-popup" type="button">{label}</button>
<script>
const url = {url};
document.getElementById("open-popup").addEventListener("click", () => {{
  const w = {width}, h = {height};
  const left = Math.max(0, (window.top.screen.width - w) / 2);
  const top = Math.max(0, (window.top.screen.height - h) / 2);
  const features = `toolbar=no,location=no,status=no,menubar=no,scrollbars=yes,resizable=yes,` +
    `width=${{w}},height=${{h}},left=${{left}},top=${{top}}`;
  // Opened by the page itself, not by this frame: the frame goes once the client is back, and the popup's
  // closer on the landing page needs its opener to be still open.
  let host = window;
  try {{ if (window.top.location.href) {{ host = window.top; }} }} catch (error) {{ host = window; }}
  const popup = host.open(url, "{name}", features);
  if (popup) {{ popup.focus(); }} else {{ host.open(url, "_blank"); }}
}});
</script></body></html>"""

# Inside the popup, after the redirect is stored: close the window the Connect page opened. It runs in the
# page itself (st.html), not in an iframe: a sandboxed iframe may not close its top window.
_POPUP_CLOSER = """<p id="popup-closer-note" style="margin:0"></p>
<script>
(function () {
  let opener = null;
  try { opener = window.opener; } catch (error) { opener = null; }
  if (!opener || opener.closed) { return; }
  const note = document.getElementById("popup-closer-note");
  if (note) {
    note.textContent = "Saved. The Connect page shows the result; this window closes itself, or you can close it.";
  }
  setTimeout(function () { window.close(); }, 1200);
})();
</script>"""


def _script_string(value: str) -> str:
    # A JSON string is a JavaScript string; `<` escaped so that `</script>` in a value cannot end the script.
    return json.dumps(value).replace("<", "\\u003c")


def popup_button(url: str, label: str = "Open in a popup") -> None:
    """A button that opens `url` in a 600x920 popup, as the official button does (a new tab if blocked)."""
    page = _POPUP_BUTTON.format(
        label=html.escape(label), url=_script_string(url), width=POPUP_WIDTH, height=POPUP_HEIGHT, name=POPUP_NAME
    )
    st.iframe(page, height=48, alt="Open the onboarding link in a popup")


def popup_closer() -> None:
    """Closes the page's window when it is the popup opened by the Connect page; invisible otherwise."""
    st.html(_POPUP_CLOSER, unsafe_allow_javascript=True)


def qr_code(url: str) -> None:
    st.image(qr_png(url), caption="Scan to open the link on a phone", width=240)
    st.download_button("Download QR code (SVG)", qr_svg(url), file_name="onboarding-link.svg", mime="image/svg+xml")


def duration_text(seconds: int) -> str:
    """13 days 23 h, 23 h 59 min, 4 min, or less than a minute."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes = rest // 60
    if hours >= 48:
        return f"{hours // 24} days {hours % 24} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return "less than a minute"


def channels_page_link() -> None:
    st.page_link(CHANNELS_PAGE, label="Go to channels and keys", icon="📱")


def redirects_page_link(label: str = "Review it on the Redirects page") -> None:
    st.page_link(REDIRECTS_PAGE, label=label, icon="🔎")


def channel_page_link(label: str, channel_id: str) -> None:
    """Opens the channel in its own view on Channels and keys (/channels?open=<id>), in this session."""
    st.page_link(CHANNELS_PAGE, label=escape_markdown(label), icon="📱", query_params={OPEN: channel_id})


def client_page_link(label: str, client_id: str) -> None:
    """Opens the client on the Clients page (/clients?open=<id>), in this session."""
    st.page_link(CLIENTS_PAGE, label=escape_markdown(label), icon="🏢", query_params={OPEN: client_id})


def redirect_channels(steps: list[dict[str, Any]]) -> None:
    """A redirect's channels (services.read_models.redirects.channel_next_steps): number, display name, status,
    key and next step per channel, then a link to each."""
    if not steps:
        st.text("The redirect names no channel.")
        return
    shaped = [{**step, "status": status_badge(step["status"]), "key": key_badge(step["key"])} for step in steps]
    frame = pd.DataFrame(shaped, columns=list(REDIRECT_COLUMNS)).rename(columns=REDIRECT_COLUMNS)
    st.dataframe(frame, hide_index=True, width="stretch")
    for step in steps:
        channel_page_link(f"{step['label']} · {step['status']}", step["channel"])
