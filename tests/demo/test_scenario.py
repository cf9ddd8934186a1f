"""The seeded demo scenario renders every page of the console without an error.

The sandbox hub and the real receiver run on loopback; the scenario is loaded as the demo page loads it
(the hub seeds, its webhooks reach the receiver, the console syncs and generates keys), then every page
file in pages/ runs in AppTest through the console's own navigation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import parse_qsl

import pytest
import streamlit as st

from services.accounts import demo_person
from services.demo.hub_client import SandboxClient
from services.demo.scenario import KEY_REGENERATED, PORTFOLIO_DROP, load_scenario
from services.keys.vault import KeyVault
from services.partner_api import PartnerApi
from services.read_models.work_queue import UNFINISHED_STAGES, stuck
from services.read_models.workbench import reason_counts, work_queue
from services.sandbox.server import create_app
from tests.support.console import console_db, use_demo
from tests.support.pages import PAGES, close_session_db, console_app
from tests.support.receiver import running_receiver
from tests.support.sandbox_hub import sandbox_settings
from tests.support.servers import free_port, serving, wait_for

pytestmark = pytest.mark.processes  # the hub, and the receiver with its writer process

PAGE_FILES = sorted(path.name for path in PAGES.glob("*.py"))
DEFAULT_PAGE = "home.py"


def default_title() -> str:
    home = console_app()
    home.run()
    close_session_db(home)
    return home.title[0].value


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data_dir = tmp_path_factory.mktemp("seeded-console")
    sandbox_port, receiver_port = free_port(), free_port()
    settings = sandbox_settings(data_dir, sandbox_port=sandbox_port, receiver_port=receiver_port)
    with ExitStack() as stack, pytest.MonkeyPatch.context() as patch:
        use_demo(patch, data_dir, SANDBOX_URL=settings.sandbox_url, CONSOLE_RECEIVER_URL=settings.receiver_url)
        stack.enter_context(running_receiver(settings, port=receiver_port))
        stack.enter_context(serving(create_app(settings), sandbox_port))
        db = stack.enter_context(console_db(settings.console_db_path))
        api = PartnerApi(settings.api_base_url, settings.partner_id, api_key=settings.partner_api_key)
        stack.callback(api.close)
        sandbox = SandboxClient.from_settings(settings)
        stack.callback(sandbox.close)
        result = load_scenario(db, api, KeyVault(settings.encryption_key), sandbox, actor=demo_person(), seed=11)
        # The console catches up through the receiver: every queued webhook gets stored.
        wait_for(lambda: db["events"].count >= result.events_queued, timeout=120, interval=0.5)
        yield {"db": db, "result": result}


def test_the_scenario_reaches_the_console(seeded) -> None:
    db, result = seeded["db"], seeded["result"]
    assert result.channels_synced == result.channels == 150
    assert result.keys_generated == 30
    assert result.key_failures == []
    assert db["channels"].count == 150
    assert db["clients"].count == result.clients == 40
    assert db["redirects"].count == 40
    assert db["events"].count == result.events_queued
    statuses = {row["status"] for row in db["channels"].rows}
    assert statuses == {"pending", "submitted", "ready", "running"}
    assert db["channels"].count_where("revoked = 1") > 0
    assert db["channels"].count_where("quality_rating in ('YELLOW', 'RED')") > 0
    assert db["api_keys"].count_where("outcome = 'ok' and status = 'active'") == 30


def test_every_promised_case_is_on_the_work_queue_as_soon_as_it_is_loaded(seeded) -> None:
    # The old behaviour: a fresh load showed no stuck channel, as the sync dated every status from itself.
    db, result = seeded["db"], seeded["result"]
    assert result.cases["stuck"] > 0
    stuck_now = stuck(db, 60, limit=1000)
    assert len(stuck_now) == result.cases["stuck"]
    assert {db["channels"].get(item.channel_id)["status"] for item in stuck_now} == set(UNFINISHED_STAGES) - {"created"}
    # The other unfinished channels are in progress: onboarded within the hour, not stuck yet.
    unfinished = db["channels"].count_where("status != 'running'")
    assert unfinished > len(stuck_now)
    counts = reason_counts(work_queue(db, stuck_after_minutes=60))
    assert counts["stuck"] == result.cases["stuck"]
    # The downgraded numbers, and the numbers of the one business portfolio whose limit Meta lowered.
    assert result.cases[PORTFOLIO_DROP] > 0
    assert counts["quality or limit dropped"] == result.cases["downgraded"] + result.cases[PORTFOLIO_DROP]
    assert counts["revoked"] == result.cases["revoked"]
    # Meta flagged two numbers and restricted one; the fourth alert names a number no channel has.
    assert (counts["account violation"], counts["account restriction"]) == (2, 1)
    assert db["events"].count_where("event_type like 'account_%'") == 4
    assert db["events"].count_where("event_type = 'waba_template_status_changed'") == 6
    assert counts["running without a key"] > 0


def test_the_scenario_plays_what_changes_after_day_one(seeded) -> None:
    db, result = seeded["db"], seeded["result"]
    # One number cancelled: it left the funnel.
    assert result.cases["cancelled"] == db["channels"].count_where("ended is not null") == 1
    # A rejected template reached the console, and the event names a WABA, not a channel.
    rejected = [
        row
        for row in db["events"].rows_where("event_type = 'waba_template_status_changed'")
        if '"status": "rejected"' in row["raw_body"]
    ]
    assert rejected
    # A portfolio limit written as a number, on each of its numbers.
    assert db["channels"].count_where("messaging_limit = '2000'") == result.cases[PORTFOLIO_DROP]
    # One client regenerated its own key in its hub after the console made one: the console's record still says
    # active until its key-health round asks 360dialog.
    assert result.cases[KEY_REGENERATED] == 1


@pytest.mark.parametrize("page_file", PAGE_FILES)
def test_every_page_renders_the_seeded_scenario(seeded, sessions, page_file: str) -> None:
    st.cache_resource.clear()
    app = console_app()
    sessions.append(app)
    app.run()
    app.switch_page(f"../pages/{page_file}")
    app.run()
    assert not app.exception, [element.value for element in app.exception]
    assert not app.error, [element.value for element in app.error]
    assert app.title
    # The page that ran is the one asked for, not the default page.
    assert (app.title[0].value == default_title()) == (page_file == DEFAULT_PAGE)
    st.cache_resource.clear()


def test_the_landing_page_renders_a_seeded_redirect(seeded, sessions) -> None:
    (raw_query,) = next(seeded["db"].execute("select raw_query from redirects order by id limit 1"))
    st.cache_resource.clear()
    app = console_app()
    sessions.append(app)
    app.run()
    app.switch_page("../pages/landing.py")
    for key, value in parse_qsl(raw_query):
        app.query_params[key] = value
    app.run()
    assert not app.exception, [element.value for element in app.exception]
    assert not app.error, [element.value for element in app.error]
    # Demo mode shows the client's page first, the operator's view one button away.
    assert [element.value for element in app.title] == ["Onboarding complete"]
    app.button[0].click().run()
    assert any("Onboarding finished" in element.value for element in app.success)
    st.cache_resource.clear()
