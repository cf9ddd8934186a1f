"""What a client wrote reaches people as words, never as a mention, a disguised link or markup: real apprise
delivers one alert about a channel with a hostile business and phone name to Slack, Discord and Teams (loopback
sinks in their place; Teams over HTTPS, as apprise reaches it), to an SMTP server and to a JSON endpoint, and
each body is read as that service would read it. The console's own link stays a working link in each."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import apprise
import pytest
from apprise.plugins.discord import NotifyDiscord
from apprise.plugins.slack import NotifySlack

from services.alerts.destinations import destinations
from services.alerts.ledger import delivery_history
from services.alerts.rounds import alert_round
from services.alerts.transports import (
    DISCORD,
    DISCORD_TEMPLATE,
    EMAIL,
    OTHER,
    SLACK,
    TEAMS,
    ZERO_WIDTH_SPACE,
    inert,
    prepared_url,
    transport_for,
)
from services.alerts.wording import Notice, one_line, single
from services.channels.labels import ChannelLabel
from tests.support.alert_conditions import Clock, add_channel, alert_settings
from tests.support.alert_sinks import json_sink, service_sink, smtp_sink
from tests.support.console import console_db

# Teams is reached over HTTPS with a certificate made for the test, which apprise is told not to verify.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

PUBLIC_URL = "http://console.test:8501"
CHANNEL = "hostileCH"
OUR_LINK = f"{PUBLIC_URL}/channels?open={CHANNEL}"
BUSINESS = "<!channel> @everyone [urgent](https://evil.example/x)"
PHONE_NAME = (
    '<@123> <@&456> <#789> <!here> @here <https://evil.example/y> <a href="https://evil.example/z">z</a> <at>Bob</at>'
)
# What people must still read, once each service has shown the text (URLs defanged, nothing else changed).
BUSINESS_READ = "<!channel> @everyone [urgent](https[:]//evil[.]example/x)"
PHONE_NAME_READ = PHONE_NAME.replace("https://evil.example", "https[:]//evil[.]example")
SLACK_TOKENS = "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
# A Markdown link or autolink that a renderer would still read as one (not broken by a backslash or a
# zero-width space).
MARKDOWN_LINK = re.compile(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(|(?<!\\)<[a-z]+:", re.IGNORECASE)


def _visible(text: str, *, backslashes: bool = False) -> str:
    """The text as a person reads it: zero-width spaces are invisible, a backslash escape shows its character."""
    text = text.replace(ZERO_WIDTH_SPACE, "")
    return re.sub(r"\\(.)", r"\1", text) if backslashes else text


@pytest.fixture(scope="module")
def received(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """One round of the revoked-permission alert about the hostile channel, sent to all five transports."""
    directory = tmp_path_factory.mktemp("transports")
    clock = Clock()
    with (
        pytest.MonkeyPatch.context() as patch,
        service_sink() as (chat, chat_url),
        service_sink(directory) as (teams, teams_url),
        smtp_sink() as (mail, mail_url),
        json_sink() as (json_target, json_url),
        console_db(directory / "console.db") as db,
    ):
        # Slack and Discord are reached at fixed https addresses: the plugins are pointed at the sink instead.
        patch.setattr(NotifySlack, "webhook_url", f"{chat_url}/slack")
        patch.setattr(NotifyDiscord, "notify_url", f"{chat_url}/discord")
        teams_host = teams_url.removeprefix("https://")
        urls = [
            f"slack://{SLACK_TOKENS}/?format=markdown",
            # An operator's Discord URL asking for Markdown embeds and a ping: the console's template still rules.
            "discord://111222333/webhooktoken?format=markdown&ping=everyone",
            f"workflows://{teams_host}/workflowid/signaturevalue?verify=no",
            mail_url + "&format=html",
            json_url,
        ]
        settings = alert_settings(urls, "revoked")
        add_channel(db, CHANNEL, clock, business=BUSINESS, revoked=1, phone_name=PHONE_NAME)
        outcomes = alert_round(db, settings, destinations(settings.urls), PUBLIC_URL, clock=clock).outcomes
        assert [outcome.error for outcome in outcomes] == [None] * 5, delivery_history(db)
        yield {
            "slack": chat.bodies("/slack/"),
            "discord": chat.bodies("/discord/"),
            "teams": teams.bodies("/workflows/"),
            "mail": (mail.subjects(), mail.text(0), mail.html(0)),
            "json": json_target.messages(),
        }


@pytest.mark.processes
def test_slack_receives_no_mention_no_link_of_theirs_and_the_name_as_words(received) -> None:
    [payload] = received["slack"]
    [attachment] = payload["attachments"]
    assert payload["mrkdwn"] is False
    for text in (attachment["title"], attachment["text"]):
        # Slack's syntax opens with "<": escaped as Slack asks, no <!channel>, <@id> or <url|text> is left.
        assert "<" not in text.replace(OUR_LINK, "")
        assert "@everyone" not in text
        assert "https://evil" not in text
    body = _visible(html.unescape(attachment["text"]))
    assert BUSINESS_READ in body
    assert PHONE_NAME_READ in body
    assert f"Open: {OUR_LINK}" in attachment["text"]


@pytest.mark.processes
def test_discord_mentions_nobody_and_shows_the_name_as_words(received) -> None:
    [payload] = received["discord"]
    assert payload["allowed_mentions"] == {"parse": []}
    assert "embeds" not in payload
    content = payload["content"]
    assert "@everyone" not in content
    assert "@here" not in content
    assert "👉" not in content
    assert not MARKDOWN_LINK.search(content)
    assert "https://evil" not in content
    # Every "<" of theirs is escaped: no <@id>, <#id>, <@&role> or <url> is read as one.
    assert not re.search(r"(?<!\\)<", content)
    shown = _visible(content, backslashes=True)
    assert BUSINESS_READ in shown
    assert PHONE_NAME_READ in shown
    assert f"Open: {OUR_LINK}" in content


@pytest.mark.processes
def test_teams_card_mentions_nobody_and_links_only_to_the_console(received) -> None:
    [payload] = received["teams"]
    card = payload["attachments"][0]["content"]
    assert "entities" not in card["msteams"]
    texts = [block["text"] for block in card["body"] if block["type"] == "TextBlock"]
    for text in texts:
        assert "<at>" not in text.lower()
        assert not MARKDOWN_LINK.search(text)
        assert "https://evil" not in text
        assert not re.search(r"<(?!\u200b)", text)
    body = _visible(texts[-1])
    assert BUSINESS_READ in body
    assert PHONE_NAME_READ in body
    assert f"Open: {OUR_LINK}" in texts[-1]


@pytest.mark.processes
def test_email_links_nothing_of_theirs_in_text_or_html(received) -> None:
    subjects, text, html_part = received["mail"]
    assert "https://evil" not in subjects[0] + text + html_part
    assert BUSINESS_READ in text
    assert PHONE_NAME_READ in text
    assert f"Open: {OUR_LINK}" in text
    # Their tags arrive as text; the HTML part holds no tag of theirs.
    assert "<a " not in html_part
    assert "<at>" not in html_part
    assert BUSINESS_READ in html.unescape(html_part).replace("\xa0", " ")
    assert OUR_LINK in html_part


@pytest.mark.processes
def test_json_carries_the_name_as_inert_words(received) -> None:
    [message] = received["json"]
    for text in (message["title"], message["message"]):
        assert "@everyone" not in text
        assert "https://evil" not in text
        assert not MARKDOWN_LINK.search(text)
        assert not re.search(r"<(?!\u200b)", text)
    body = _visible(message["message"])
    assert BUSINESS_READ in body
    assert PHONE_NAME_READ in body
    assert f"Open: {OUR_LINK}" in message["message"]


# -- the neutralising itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", [SLACK, DISCORD, TEAMS, EMAIL, OTHER], ids=lambda t: t.name)
def test_names_and_numbers_read_as_they_are(transport) -> None:
    text = "Permission revoked: Cafe Olé, +34 600 111 222 (channel id abc123)"
    assert inert(text, transport, PUBLIC_URL) == text


@pytest.mark.parametrize("transport", [SLACK, DISCORD, TEAMS, EMAIL, OTHER], ids=lambda t: t.name)
def test_only_the_consoles_own_links_stay_links(transport) -> None:
    ours = f"{PUBLIC_URL}/channels?open=a1_b-2.c%2F"
    lookalikes = [
        f"{PUBLIC_URL}.evil.example/x",
        f"{PUBLIC_URL}@evil.example/x",
        "http://console.test:85012/x",
        "https://evil.example/channels?open=a",
    ]
    text = f"Open: {ours} or " + " ".join(lookalikes) + f" [ours]({PUBLIC_URL}/alerts)"
    made = inert(text, transport, PUBLIC_URL)
    assert f"Open: {ours} or " in made
    shown = _visible(made, backslashes=transport is DISCORD)
    for lookalike in lookalikes:
        assert lookalike not in shown
    assert "evil.example" not in shown
    assert "https[:]//evil[.]example/channels?open=a" in shown
    if transport is not EMAIL and transport is not SLACK:
        assert not MARKDOWN_LINK.search(made)


def test_without_a_public_url_nothing_is_a_link() -> None:
    assert inert("see https://a.example/x", OTHER, "") == "see https[:]//a[.]example/x"
    glued = "x" * 40 + "https://a.example/x and www.b.example"
    assert inert(glued, EMAIL, "") == "x" * 40 + "https[:]//a[.]example/x and www[.]b[.]example"


def test_each_destination_has_its_transport_whether_named_by_scheme_or_by_the_services_own_address() -> None:
    assert transport_for(f"slack://{SLACK_TOKENS}") is SLACK
    assert transport_for(f"https://hooks.slack.com/services/{SLACK_TOKENS}") is SLACK
    assert transport_for("Discord://111/tok") is DISCORD
    assert transport_for("https://discord.com/api/webhooks/111222/tok-en") is DISCORD
    assert transport_for("workflows://teams.example/wf/sig") is TEAMS
    assert transport_for("mailtos://ops:pw@smtp.example.com") is EMAIL
    assert transport_for("json://127.0.0.1/x") is OTHER
    assert transport_for("nosuchservice://x") is OTHER


@pytest.mark.parametrize(
    "url", ["discord://111222/tok-en?format=markdown", "https://discord.com/api/webhooks/111222/tok-en?format=markdown"]
)
def test_apprise_reads_the_pinned_template_and_format_from_the_prepared_url(url) -> None:
    plugin = apprise.Apprise.instantiate(prepared_url(url, DISCORD))
    assert plugin.template[0].path == str(DISCORD_TEMPLATE)
    assert "format=text" in plugin.url(privacy=True)


def test_the_consoles_discord_template_and_plain_text_replace_the_operators() -> None:
    url = "discord://111/tok?template=/elsewhere.json&format=markdown&+X-Head=v&avatar=no"
    made = prepared_url(url, DISCORD)
    query = made.split("?", 1)[1].split("&")
    assert "+X-Head=v" in query
    assert "avatar=no" in query
    assert "format=text" in query
    assert f"template={DISCORD_TEMPLATE}" in query
    assert "/elsewhere.json" not in made
    assert prepared_url("json://h/x?+A=b", OTHER) == "json://h/x?+A=b"


@pytest.mark.parametrize(
    ("url", "channels"),
    [
        (f"slack://{SLACK_TOKENS}/#ops", ["#ops"]),
        ("slack://xoxb-1234-1234-abc124/#general/#other?footer=no", ["#general", "#other"]),
    ],
)
def test_a_slack_channel_after_a_hash_is_kept_when_plain_text_is_pinned(url, channels) -> None:
    prepared = prepared_url(url, SLACK)
    plugin = apprise.Apprise.instantiate(prepared)
    assert plugin.channels == channels
    assert "format=text" in plugin.url(privacy=True)
    assert prepared.endswith("?footer=no&format=text") or prepared.endswith("?format=text")


def test_a_value_someone_else_wrote_never_starts_a_line_of_its_own() -> None:
    assert one_line("Cafe\n# Urgent\r\n> quote\u2028- item\x00") == "Cafe # Urgent > quote - item"


def test_a_hostile_name_cannot_start_lines_in_the_message() -> None:
    notice = Notice(
        1, "revoked", CHANNEL, CHANNEL, "the client withdrew\n# it", "2026-01-01T00:00:00", None, True, False
    )
    labels = {CHANNEL: ChannelLabel(CHANNEL, "+34 600", "Shown\n@everyone", "c1", "Cafe\n- fake line")}
    text = single(notice, labels, PUBLIC_URL)
    lines = text.body.split("\n")
    assert [line.split(":", 1)[0] for line in lines] == ["Severity", "Channel", "What happened", "What to do", "Open"]
    assert "\n" not in text.title
