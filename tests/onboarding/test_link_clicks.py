"""A handed-out link signed afresh at each click: the console's /connect/<token> route on real HTTP, in front of
the sandbox hub on real HTTP, both with an injected clock. 360dialog: an IO Signature "becomes invalid after 24
hours, or when it has been used once to start IO"; a link on paper or in a mail must outlive both."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlite_utils import Database
from starlette.applications import Starlette

from dashboard.link_route import LinkClicks, link_routes
from services.onboarding.link_clicks import MAX_SECONDS_AHEAD, LinkSigning, follow_link
from services.onboarding.links import LinkRequest, get_link, hand_out_link, sandbox_hub_url
from services.onboarding.redirect_store import receive_redirect
from services.sandbox.signing import io_signature_valid
from tests.support.people import person
from tests.support.sandbox_hub import Hub, start_hub
from tests.support.servers import free_port, serving

pytestmark = pytest.mark.processes  # the sandbox hub, a receiver and the console's route on uvicorn

CONSOLE = "https://console.example.test"
DAY = 24 * 3600


@dataclass
class Clock:
    """Seconds since the epoch, moved by the test; the console's route and the hub both read it."""

    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Stack:
    hub: Hub
    console: str
    clock: Clock


@pytest.fixture
def stack(data_dir: Path, db: Database) -> Iterator[Stack]:
    clock = Clock(time.time())
    with ExitStack() as exits:
        hub = start_hub(exits, data_dir, clock=clock)
        clicks = LinkClicks(settings=lambda: hub.settings, clock=clock)
        exits.callback(clicks.close)
        console = exits.enter_context(serving(Starlette(routes=link_routes(clicks)), free_port()))
        yield Stack(hub, console, clock)


def hand_out(db: Database, stack: Stack, *, days: float = 14, made: datetime | None = None) -> str:
    """A link as the Connect page hands it out for the sandbox; its path under the console."""
    request = LinkRequest(
        env="sandbox",
        hub_url=sandbox_hub_url(stack.hub.url),
        params={"redirect_url": "http://localhost:8501/landing", "name": "Cafe Olé"},
    )
    link = hand_out_link(
        db,
        request,
        partner_id=stack.hub.settings.partner_id,
        actor=person("ana"),
        signing_secret=stack.hub.settings.platform_secret,
        console_url=CONSOLE,
        link_days=days,
        now=made or datetime.fromtimestamp(stack.clock(), UTC),
    )
    assert link.url.startswith(f"{CONSOLE}/connect/")
    return urlsplit(link.url).path


def click(stack: Stack, path: str) -> requests.Response:
    return requests.get(stack.console + path, allow_redirects=False, timeout=10)


def start_io(hub_link: str) -> requests.Response:
    """Open the hub's page for a link, as the client's browser does after the console's redirect."""
    return requests.get(hub_link, timeout=10)


def finish_io(hub_link: str, form_page: requests.Response) -> requests.Response:
    query = html.unescape(re.search(r'name="query" value="([^"]*)"', form_page.text).group(1))
    form = {"query": query, "business_name": "Cafe Olé", "numbers": "+34 600 111 222", "grant": "yes"}
    return requests.post(hub_link.split("?")[0], data=form, allow_redirects=False, timeout=10)


def test_a_link_onboards_after_an_abandoned_first_attempt(db, stack: Stack) -> None:
    path = hand_out(db, stack)
    first = click(stack, path)
    assert first.status_code == 303
    hub_link = first.headers["location"]
    assert start_io(hub_link).status_code == 200, "the first click starts IO"
    # The client closes the tab. The signature has started IO once: the hub takes it no more.
    assert start_io(hub_link).status_code == 403
    stack.clock.now += 5
    second = click(stack, path)
    assert second.status_code == 303
    fresh = second.headers["location"]
    assert parse_qs(urlsplit(fresh).query)["io_signature"] != parse_qs(urlsplit(hub_link).query)["io_signature"]
    form_page = start_io(fresh)
    assert form_page.status_code == 200
    done = finish_io(fresh, form_page)
    assert done.status_code == 303
    back = parse_qs(urlsplit(done.headers["location"]).query)
    link = get_link(db, parse_qs(urlsplit(fresh).query)["state"][0])
    assert link["token"] == path.rsplit("/", 1)[-1]
    assert back["state"] == [link["state"]]
    assert back["client"][0]
    assert link["clicks"] == 2


def test_a_link_onboards_after_25_hours(db, stack: Stack) -> None:
    path = hand_out(db, stack)
    stack.clock.now += 25 * 3600
    answer = click(stack, path)
    assert answer.status_code == 303
    hub_link = answer.headers["location"]
    query = parse_qs(urlsplit(hub_link).query)
    assert int(query["io_timestamp"][0]) >= int(stack.clock.now)
    form_page = start_io(hub_link)
    assert form_page.status_code == 200, form_page.text
    assert finish_io(hub_link, form_page).status_code == 303


def test_two_clicks_in_one_second_get_two_signatures(db, stack: Stack) -> None:
    # The signature is HMAC("{partner}|{second}"): the same second would give the same, already used, signature.
    first_path, second_path = hand_out(db, stack), hand_out(db, stack)
    links = [click(stack, path).headers["location"] for path in (first_path, first_path, second_path)]
    signatures = {parse_qs(urlsplit(link).query)["io_signature"][0] for link in links}
    assert len(signatures) == 3
    for link in links:
        assert start_io(link).status_code == 200


def test_an_expired_link_and_an_unknown_token_get_the_neutral_refusal(db, stack: Stack) -> None:
    made = datetime.fromtimestamp(stack.clock(), UTC) - timedelta(days=15)
    expired = hand_out(db, stack, made=made)
    gone = click(stack, expired)
    assert gone.status_code == 410
    assert "This link has expired" in gone.text
    assert "location" not in gone.headers
    unknown = click(stack, "/connect/" + "A" * 22)
    assert unknown.status_code == 404
    assert "Link not found" in unknown.text
    for answer in (gone, unknown, click(stack, "/connect/not%20a%20token")):
        assert "state" not in answer.text
        assert "demoPA" not in answer.text
        assert answer.headers["cache-control"] == "no-store"


def test_a_link_whose_client_came_back_is_not_signed_again(db, stack: Stack) -> None:
    path = hand_out(db, stack)
    hub_link = click(stack, path).headers["location"]
    done = finish_io(hub_link, start_io(hub_link))
    receive_redirect(db, urlsplit(done.headers["location"]).query)
    again = click(stack, path)
    assert again.status_code == 410
    assert "already connected" in again.text


def test_the_link_keeps_its_days(db, stack: Stack) -> None:
    path = hand_out(db, stack, days=2)
    stack.clock.now += 2 * DAY - 60
    assert click(stack, path).status_code == 303
    stack.clock.now += 120
    assert click(stack, path).status_code == 410


def test_a_click_flood_runs_ahead_of_the_clock_only_so_far(db) -> None:
    made = datetime(2026, 1, 2, 12, tzinfo=UTC)
    link = hand_out_link(
        db,
        LinkRequest(),
        partner_id="abcPA",
        actor=person("ana"),
        signing_secret="s" * 32,
        console_url=CONSOLE,
        now=made,
    )
    signing = LinkSigning("abcPA", "s" * 32)
    clicks = [follow_link(db, link.token or "", signing, now=made) for _ in range(MAX_SECONDS_AHEAD + 2)]
    assert all(one.target for one in clicks[: MAX_SECONDS_AHEAD + 1])
    assert clicks[-1].refusal == "busy"
    last = parse_qs(urlsplit(clicks[MAX_SECONDS_AHEAD].target or "").query)
    assert int(last["io_timestamp"][0]) == int(made.timestamp()) + MAX_SECONDS_AHEAD
    assert io_signature_valid("abcPA", int(last["io_timestamp"][0]), last["io_signature"][0], "s" * 32, "hex")
    assert get_link(db, link.state)["clicks"] == MAX_SECONDS_AHEAD + 2


def test_the_hub_refuses_a_signature_used_to_start_io_or_older_than_24_hours(db, stack: Stack) -> None:
    path = hand_out(db, stack)
    hub_link = click(stack, path).headers["location"]
    form_page = start_io(hub_link)
    again = start_io(hub_link)
    assert again.status_code == 403
    assert "already used" in again.text
    # The attempt it started may still finish: its form carries the attempt's code.
    assert finish_io(hub_link, form_page).status_code == 303

    later = hand_out(db, stack)
    stale = click(stack, later).headers["location"]
    stack.clock.now += DAY + 60
    expired = start_io(stale)
    assert expired.status_code == 403
    assert "expired" in expired.text
