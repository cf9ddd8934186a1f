"""What an alert says: the channel by business and number, what happened, what to do, and the link to look.

Plain text, stored as composed: apprise turns it into each service's own format (an e-mail, a Slack message, a JSON
body), and services.alerts.transports makes what others wrote inert for each on the way out. Here, a value the
console did not write (a name, an event field, an answer) is kept to one line, so it can never start a line of
its own (a Markdown heading or quote, a list item that looks like ours).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from services.alerts.rules import CRITICAL, RULES_BY_KEY, WARNING, Rule
from services.channels.labels import ChannelLabel
from services.times import utc_text

# A digest or a summary names this many alerts one by one, and counts the rest.
MAX_LISTED = 20
MAX_DETAIL = 300
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class Notice:
    """One alert's news not yet sent: it fired, it resolved, or both since the last message."""

    alert_id: int
    rule: str
    subject: str
    channel_id: str | None
    detail: str
    fired_at: str
    resolved_at: str | None
    fired: bool
    resolved: bool
    severity: str = WARNING
    # It fired before and got worse since (quality YELLOW, then RED).
    worsened: bool = False

    @property
    def urgent(self) -> bool:
        """A critical alert's firing goes out at once, whatever the cap and the digest."""
        return self.fired and self.severity == CRITICAL

    @property
    def at(self) -> str:
        return self.fired_at if self.fired else self.resolved_at or self.fired_at

    @property
    def kind(self) -> str:
        if self.fired and self.resolved:
            return "fired and resolved"
        return "fired" if self.fired else "resolved"


@dataclass(frozen=True)
class Text:
    kind: str
    level: str
    title: str
    body: str


def one_line(value: str | None) -> str:
    """A value someone else wrote, with its line breaks and other control characters turned into spaces."""
    return _BREAKS.sub(" ", value or "").strip()


def _when(moment: str | None) -> str:
    return utc_text(moment, missing="now", zone=True)


def link(public_url: str, notice: Notice, rule: Rule) -> str:
    if notice.channel_id:
        return f"{public_url}/channels?open={quote(notice.channel_id, safe='')}"
    return f"{public_url}{rule.page}"


def _about(notice: Notice, labels: dict[str, ChannelLabel]) -> str:
    """The channel by business and number; for the receiver's refusals, the reason; else nothing more."""
    if notice.channel_id:
        label = labels[notice.channel_id]
        return f"{one_line(label.business)}, {one_line(label.number) or 'number not known yet'}"
    return one_line(notice.subject.split("/", 1)[1]) if "/" in notice.subject else ""


def _prefix(notice: Notice) -> str:
    if notice.kind != "fired":
        return {"resolved": "Resolved: ", "fired and resolved": "Fired and resolved: "}[notice.kind]
    if notice.severity == CRITICAL:
        return "Critical, worse: " if notice.worsened else "Critical: "
    return "Worse: " if notice.worsened else ""


def _headline(notice: Notice, labels: dict[str, ChannelLabel]) -> str:
    rule = RULES_BY_KEY[notice.rule]
    about = _about(notice, labels)
    return f"{_prefix(notice)}{rule.title}: {about}" if about else f"{_prefix(notice)}{rule.title}"


def _level(notices: Sequence[Notice]) -> str:
    """apprise's notification type: failure for a critical alert, success when all is news of resolutions."""
    if any(notice.urgent for notice in notices):
        return "failure"
    return "warning" if any(notice.fired for notice in notices) else "success"


def single(notice: Notice, labels: dict[str, ChannelLabel], public_url: str) -> Text:
    rule = RULES_BY_KEY[notice.rule]
    lines = [f"Severity: {notice.severity}"]
    if notice.channel_id:
        label = labels[notice.channel_id]
        shown = label.phone_name if label.phone_name and label.phone_name != label.business else ""
        shown_as = f", shown as {one_line(shown)}" if shown else ""
        lines.append(f"Channel: {_about(notice, labels)}{shown_as} (channel id {one_line(notice.channel_id)})")
    lines.append(f"What happened: {one_line(notice.detail[:MAX_DETAIL])}.")
    if notice.resolved:
        began = _when(notice.fired_at)
        lines.append(f"Resolved at {_when(notice.resolved_at)}: the condition no longer holds (it began {began}).")
    else:
        lines.append(f"What to do: {rule.todo}")
    lines.append(f"Open: {link(public_url, notice, rule)}")
    kind = "alert" if notice.fired else "resolved"
    return Text(kind, _level([notice]), _headline(notice, labels), "\n".join(lines))


def _line(notice: Notice, labels: dict[str, ChannelLabel], public_url: str) -> str:
    rule = RULES_BY_KEY[notice.rule]
    return f"- {_headline(notice, labels)}: {one_line(notice.detail[:MAX_DETAIL])} ({link(public_url, notice, rule)})"


def _counts(notices: Sequence[Notice]) -> str:
    counted = Counter((RULES_BY_KEY[notice.rule].title.lower(), notice.kind) for notice in notices)
    return ", ".join(f"{count} {title} ({kind})" for (title, kind), count in counted.most_common())


def _listed(notices: Sequence[Notice], labels: dict[str, ChannelLabel], public_url: str) -> list[str]:
    lines = [_line(notice, labels, public_url) for notice in notices[:MAX_LISTED]]
    if len(notices) > MAX_LISTED:
        lines.append(f"- and {len(notices) - MAX_LISTED} more")
    return lines


# How many a grouped message's title names before it counts the rest.
NAMED_IN_TITLE = 3


def grouped(notices: Sequence[Notice], labels: dict[str, ChannelLabel], public_url: str) -> Text:
    """Many alerts of one rule and one kind of news as one message: "22 numbers stuck in onboarding: ...",
    naming the first and counting the rest."""
    first = notices[0]
    rule = RULES_BY_KEY[first.rule]
    named = [_about(notice, labels) or one_line(notice.subject) for notice in notices[:NAMED_IN_TITLE]]
    more = f" and {len(notices) - NAMED_IN_TITLE} more" if len(notices) > NAMED_IN_TITLE else ""
    prefix = {"fired": "", "resolved": "Resolved: ", "fired and resolved": "Fired and resolved: "}[first.kind]
    if first.urgent:
        prefix = "Critical: "
    title = f"{prefix}{len(notices)} {rule.many}: {'; '.join(named)}{more}"
    body = [f"Severity: {_severity_words(notices)}", ""]
    body += _listed(notices, labels, public_url)
    body.append("")
    body.append(f"What to do: {rule.todo}" if first.kind == "fired" else "The conditions no longer hold.")
    body.append(f"Every open alert: {public_url}/alerts")
    kind = "alert" if first.fired else "resolved"
    return Text(kind, _level(notices), title, "\n".join(body))


def _severity_words(notices: Sequence[Notice]) -> str:
    counted = Counter(notice.severity for notice in notices)
    return ", ".join(f"{count} {severity}" for severity, count in sorted(counted.items()))


def held_line(alerts: int, resolutions: int, reason: str, until: str | None) -> str:
    """What waits and until when, as the Alerts page says it: "12 warning alerts held by the hourly cap until
    14:05 UTC"."""
    parts = []
    if alerts:
        parts.append("1 warning alert" if alerts == 1 else f"{alerts} warning alerts")
    if resolutions:
        parts.append("1 resolution" if resolutions == 1 else f"{resolutions} resolutions")
    what = " and ".join(parts)
    if until is None:
        return f"{what} waiting for the scheduler's next check"
    return f"{what} held by {reason} until {utc_text(until, to='clock', zone=True)}"


def digest(notices: Sequence[Notice], labels: dict[str, ChannelLabel], public_url: str, minutes: float) -> Text:
    title = f"{len(notices)} alerts in the last {minutes:g} min"
    body = [f"In short: {_counts(notices)}.", "", *_listed(notices, labels, public_url), ""]
    body.append(f"Every open alert: {public_url}/alerts")
    return Text("digest", _level(notices), title, "\n".join(body))


def summary(notices: Sequence[Notice], labels: dict[str, ChannelLabel], public_url: str, cap: int) -> Text:
    title = f"{len(notices)} more alerts held back (at most {cap} messages an hour)"
    body = [
        f"These came while the console had sent its {cap} messages of the hour: {_counts(notices)}.",
        "",
        *_listed(notices, labels, public_url),
        "",
        f"Every open alert: {public_url}/alerts (CONSOLE_ALERT_MAX_PER_HOUR sets the cap)",
    ]
    return Text("summary", "warning", title, "\n".join(body))


def test_message(operator: str, public_url: str, at: str) -> Text:
    return Text(
        "test",
        "info",
        "Test alert from the onboarding console",
        f"Sent by {one_line(operator)} from the Alerts page at {_when(at)}.\n"
        "If you read this, alerts reach this destination.\n"
        f"Open: {public_url}/alerts",
    )
