"""Where alerts go: the apprise URLs of CONSOLE_ALERT_URLS, each sent on its own through apprise.

A URL holds its destination's secrets (a token in a Slack or Teams path, an SMTP password, a header value), so
a destination is shown by its scheme and host alone, known again by a digest of its URL, and whatever went
wrong is told in words with every part of the URL but those two taken out. apprise logs whole URLs at DEBUG and
urllib3 logs request paths: neither reaches the process's log (`quiet_libraries`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise

from services.alerts import transports
from services.settings_rules import SettingsError

# apprise's own per-service timeouts apply too; this bounds one whole send.
SEND_TIMEOUT_SECONDS = 20.0
MAX_ERROR_LENGTH = 300
# Shorter pieces of a URL ("a", "yes", a port) are not secrets and would blank out ordinary words.
MIN_SECRET_PIECE = 4
HIDDEN = "***"
LEVELS = {
    "warning": apprise.NotifyType.WARNING,
    "success": apprise.NotifyType.SUCCESS,
    "info": apprise.NotifyType.INFO,
    "failure": apprise.NotifyType.FAILURE,
}
WEB_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Destination:
    """One apprise URL: `label` is what anyone may see, `key` what a delivery row remembers it by."""

    url: str = field(repr=False)
    label: str
    key: str
    usable: bool


def quiet_libraries() -> None:
    """Keep apprise's URL-bearing debug lines and urllib3's request paths out of every log."""
    apprise_log = logging.getLogger("apprise")
    if apprise_log.level == logging.NOTSET or apprise_log.level < logging.WARNING:
        apprise_log.setLevel(logging.WARNING)
    # apprise still hands its warnings back on each result (`reasons`); they are redacted there.
    apprise_log.propagate = False
    if not apprise_log.handlers:
        apprise_log.addHandler(logging.NullHandler())
    pool_log = logging.getLogger("urllib3.connectionpool")
    if pool_log.getEffectiveLevel() < logging.INFO:
        pool_log.setLevel(logging.INFO)


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@cache
def _plugin(url: str) -> object | None:
    quiet_libraries()
    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def _hostname(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if host and port else host


def describe(url: str) -> Destination:
    """The destination of one URL: scheme and host where the host is a host (JSON, e-mail, any web URL), the
    scheme and service alone where apprise keeps a token in the host's place (Slack, Telegram, Discord...)."""
    scheme = url.split("://", 1)[0].lower()
    plugin = _plugin(url)
    if plugin is None:
        return Destination(url, f"{scheme}:// (not understood by apprise)", url_key(url), usable=False)
    if scheme in WEB_SCHEMES or "host" in getattr(plugin, "template_tokens", {}):
        label = f"{scheme}://{_hostname(url)}"
    else:
        label = f"{scheme}:// ({getattr(plugin, 'service_name', scheme)})"
    # What is sent is the URL with its transport's pinned parameters: that one must be usable too.
    prepared = transports.prepared_url(url, transports.transport_for(url))
    return Destination(url, label, url_key(url), usable=_plugin(prepared) is not None)


def destinations(urls: Iterable[str]) -> list[Destination]:
    return [describe(url) for url in urls]


def check_usable(found: list[Destination]) -> None:
    """Stop at start, as for any wrong setting, when apprise cannot use a URL; the message names its position
    and scheme, never the URL."""
    wrong = [f"item {position} ({item.label})" for position, item in enumerate(found, start=1) if not item.usable]
    if wrong:
        raise SettingsError(f"CONSOLE_ALERT_URLS: apprise cannot use {', '.join(wrong)}")


def _secret_pieces(url: str) -> list[str]:
    """Every part of the URL but its scheme and host, raw and decoded, longest first."""
    rest = url.split("://", 1)[-1]
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    label_host = (
        hostname if "host" in getattr(_plugin(url), "template_tokens", {}) or parts.scheme in WEB_SCHEMES else ""
    )
    pieces = {rest}
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        pieces.update([userinfo, *userinfo.split(":", 1)])
    if not label_host:
        pieces.add(parts.netloc)
    pieces.update(segment for segment in parts.path.split("/") if segment)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces.update([name, value])
    pieces.update([parts.query, parts.fragment])
    decoded = {unquote(piece) for piece in pieces}
    found = {piece for piece in pieces | decoded if len(piece) >= MIN_SECRET_PIECE and piece != label_host}
    return sorted(found, key=len, reverse=True)


def redact(text: str, url: str) -> str:
    """`text` with every secret-bearing piece of `url` replaced, cut to MAX_ERROR_LENGTH."""
    for piece in _secret_pieces(url):
        text = text.replace(piece, HIDDEN)
    return text[:MAX_ERROR_LENGTH]


def send(destination: Destination, title: str, body: str, level: str = "info", *, public_url: str = "") -> str | None:
    """Send one message to one destination, made inert for its transport (services.alerts.transports) but for
    the console's own links under `public_url` (without one, no link stays a link); None when apprise says it
    arrived, else why not (redacted)."""
    quiet_libraries()
    if not destination.usable:
        return "apprise does not understand this URL"
    transport = transports.transport_for(destination.url)
    notifier = apprise.Apprise()
    if not notifier.add(transports.prepared_url(destination.url, transport)):
        return "apprise does not understand this URL"
    try:
        result = notifier.notify(
            body=transports.inert(body, transport, public_url),
            title=transports.inert(title, transport, public_url),
            notify_type=LEVELS.get(level, apprise.NotifyType.INFO),
            body_format=apprise.NotifyFormat.TEXT,
            timeout=SEND_TIMEOUT_SECONDS,
        )
    except Exception as error:  # noqa: BLE001 - a destination's failure is recorded, never raised into the loop
        return f"unexpected {type(error).__name__} in apprise"
    if result:
        return None
    reasons = " ".join(dict.fromkeys(entry.message for entry in result.logs() if entry.message))
    reasons = reasons.replace(str(transports.DISCORD_TEMPLATE), transports.DISCORD_TEMPLATE.name)
    return redact(reasons or f"apprise reports {result.status.name.lower()}", destination.url)
