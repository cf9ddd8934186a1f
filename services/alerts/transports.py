"""What each alert transport makes of text, and what it takes to make the text others wrote inert there.

An alert quotes what the console did not write: a business or phone name the client typed, event fields, what
360dialog answered. Chat services read their own syntax in such text: a mention that notifies a whole channel
(@everyone, <!channel>, <@id>, <@&role>, <#channel>, <at>name</at>), a link that shows one text and goes
elsewhere ([text](url), <url|text>, <a href>), and a bare URL they turn into a link. So before a message leaves,
everything in it but the console's own links (under CONSOLE_PUBLIC_URL, which only the console writes) is made
inert for the transport it goes to, here and nowhere else:

- Slack: apprise is held to plain text, where it escapes &, < and > as Slack asks (no <!channel>, no <url|text>);
  every `<` and broadcast word is broken too, and URLs defanged.
- Discord: sent through the template below, whose `allowed_mentions` is empty (apprise sets no such field
  itself), in plain text; Markdown punctuation is escaped with a backslash (Discord shows the character), and
  broadcast words are broken and URLs defanged.
- Teams (apprise's Power Automate `workflows://`): held to plain text, which the card still renders as Markdown:
  every `<` and every `](` is broken (no <at> mention, tag or link), broadcast words too, URLs defanged.
- E-mail: URLs defanged (mail clients link them); apprise escapes the HTML part itself.
- JSON and any other apprise target: as for Teams, since what reads it may render Markdown or HTML.

"Broken" means a zero-width space after the character that opens the syntax: people read the same words.
"Defanged" means `https[:]//evil[.]example/x`: readable, and no client links it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote, unquote

import apprise
from apprise.plugins.discord import NotifyDiscord
from apprise.plugins.email import NotifyEmail
from apprise.plugins.slack import NotifySlack
from apprise.plugins.workflows import NotifyWorkflows

ZERO_WIDTH_SPACE = "\u200b"
# Discord's webhook body: our text as its content, and no mention of anyone, whatever the text says.
DISCORD_TEMPLATE = Path(__file__).with_name("discord_template.json")

# Whatever precedes it ("xhttps://" is linked too): the "://" and the host that follows it.
_URL = re.compile(r"://([^\s/?#\\<>\"'()\[\]]*)")
_WWW = re.compile(r"\bwww\.([^\s/?#\\<>\"'()\[\]]*)", re.IGNORECASE)
_BROADCAST = re.compile(r"@(?=(?:everyone|here|channel|all)\b)", re.IGNORECASE)
_OPENING = re.compile(r"<")
_LINK_JOIN = re.compile(r"\](?=[ \t]{0,3}\()")
_DISCORD_MARKUP = re.compile(r"([\\`*_~|\[\]<>#])")


def defang(text: str) -> str:
    """Every URL readable but not a link: `https://evil.example/x` becomes `https[:]//evil[.]example/x`."""
    text = _URL.sub(lambda found: f"[:]//{_dots(found[1])}", text)
    return _WWW.sub(lambda found: f"{found[0][:3]}[.]{_dots(found[1])}", text)


def _dots(host: str) -> str:
    return host.replace(".", "[.]")


def break_broadcasts(text: str) -> str:
    return _BROADCAST.sub("@" + ZERO_WIDTH_SPACE, text)


def break_openings(text: str) -> str:
    """No `<` opens anything: a tag, an autolink, a Slack or Discord mention, a Teams <at>."""
    return _OPENING.sub("<" + ZERO_WIDTH_SPACE, text)


def _for_slack(text: str) -> str:
    # apprise escapes &, < and > in plain text (Slack's own rule); escaping them here too would show "&amp;lt;".
    # The `<` is broken as well, for the one Slack mode (Workflow Builder) where apprise passes the title as is.
    return break_broadcasts(break_openings(defang(text)))


def _for_discord(text: str) -> str:
    return break_broadcasts(_DISCORD_MARKUP.sub(r"\\\1", defang(text)))


def _for_markdown_or_html(text: str) -> str:
    text = break_openings(defang(text))
    return break_broadcasts(_LINK_JOIN.sub("]" + ZERO_WIDTH_SPACE, text))


@dataclass(frozen=True)
class Transport:
    """One kind of destination: how its foreign text is made inert, and the URL parameters the console sets
    whatever the URL says (so that apprise renders what that neutralising expects)."""

    name: str
    neutralise: Callable[[str], str]
    pinned: tuple[tuple[str, str], ...] = ()


SLACK = Transport("slack", _for_slack, (("format", "text"),))
DISCORD = Transport("discord", _for_discord, (("format", "text"), ("template", str(DISCORD_TEMPLATE))))
TEAMS = Transport("teams", _for_markdown_or_html, (("format", "text"),))
EMAIL = Transport("e-mail", defang)
OTHER = Transport("other", _for_markdown_or_html)
# By the apprise plugin that takes the URL: a service's own https address (a Discord or Slack webhook as the
# service shows it) is the same transport as its apprise scheme.
BY_PLUGIN: tuple[tuple[type, Transport], ...] = (
    (NotifySlack, SLACK),
    (NotifyDiscord, DISCORD),
    (NotifyWorkflows, TEAMS),
    (NotifyEmail, EMAIL),
)


@cache
def transport_for(url: str) -> Transport:
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    return next((transport for kind, transport in BY_PLUGIN if isinstance(plugin, kind)), OTHER)


def prepared_url(url: str, transport: Transport) -> str:
    """The URL with the transport's pinned parameters in place of any the operator set. Split as apprise splits
    it, at the first `?` (a `#channel` before it is a path, not a fragment), and edited piece by piece: apprise's
    own parameters (`+Header=`, `:token=`) would not survive a parse and re-encode."""
    if not transport.pinned:
        return url
    base, _, query = url.partition("?")
    names = {name for name, _ in transport.pinned}
    kept = [piece for piece in query.split("&") if piece and unquote(piece.split("=", 1)[0]) not in names]
    pinned = [f"{name}={quote(value, safe='/')}" for name, value in transport.pinned]
    return f"{base}?{'&'.join([*kept, *pinned])}"


@cache
def _own_links(public_url: str) -> re.Pattern[str] | None:
    """The console's own links: its public URL, then a path of the characters its links use, and not a longer
    host (`...:8501.evil.example`) or a user name (`...:8501@evil.example`) that only starts like it."""
    base = public_url.rstrip("/")
    if not base:
        return None
    return re.compile(re.escape(base) + r"(?:/[A-Za-z0-9/?=%._~-]*)?(?![\w.:@-])")


def inert(text: str, transport: Transport, public_url: str) -> str:
    """`text` as `transport` should receive it: the console's own links as they are, all else made inert."""
    own = _own_links(public_url)
    if own is None:
        return transport.neutralise(text)
    pieces, start = [], 0
    for link in own.finditer(text):
        pieces.append(transport.neutralise(text[start : link.start()]))
        pieces.append(link.group())
        start = link.end()
    pieces.append(transport.neutralise(text[start:]))
    return "".join(pieces)
