"""The hub's demo controls (not part of 360dialog's API): authenticated, and refusing bad input clearly."""

from __future__ import annotations

import pytest
import requests

from services.demo.hub_client import SandboxClient, SandboxError
from tests.contract.test_partner_api_contract import assert_meta_error

pytestmark = pytest.mark.processes  # the sandbox hub and a receiver on uvicorn, a second or so a test


def test_the_controls_need_the_partner_api_key(make_hub) -> None:
    hub = make_hub()
    for method, path in [("POST", "/reset"), ("POST", "/seed"), ("GET", "/outbox"), ("POST", "/switches")]:
        response = requests.request(method, f"{hub.url}/sandbox/admin{path}", timeout=10)
        assert_meta_error(response, 401)
    stranger = SandboxClient(hub.url, "not-the-key")
    with pytest.raises(SandboxError, match="401"):
        stranger.reset()
    stranger.close()


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (lambda sandbox: sandbox.change_quality("noSuchCH", quality="RED", limit="TIER_50"), 404),
        (lambda sandbox: sandbox.change_quality("noSuchCH", quality="PURPLE", limit="TIER_50"), 400),
        (lambda sandbox: sandbox.change_quality("noSuchCH", quality="RED", limit="TIER_7"), 400),
        (lambda sandbox: sandbox.account_violation("noSuchCH"), 404),
        (lambda sandbox: sandbox.account_alert("noSuchCH", "account_restriction"), 404),
        (lambda sandbox: sandbox.template_status_change("noSuchCH", "approved"), 404),
        (lambda sandbox: sandbox.template_status_change("noSuchCH", "banished"), 400),
        (lambda sandbox: sandbox.revoke("noSuchCH"), 404),
        (lambda sandbox: sandbox.resend(99999), 404),
        (lambda sandbox: sandbox.onboard("", ["+49 151 1"]), 400),
        (lambda sandbox: sandbox.onboard("Name", ["not a number"]), 400),
        (lambda sandbox: sandbox.onboard("Name", []), 400),
        (lambda sandbox: sandbox.set_switches(loud=True), 400),
    ],
)
def test_bad_control_requests_are_refused_with_a_reason(make_hub, call, status: int) -> None:
    hub = make_hub()
    with pytest.raises(SandboxError, match=f"refused \\({status}\\)"):
        call(hub.sandbox)
    assert hub.sandbox.outbox() == []


def test_release_makes_the_seeded_webhooks_due(make_hub) -> None:
    hub = make_hub()
    scenario = hub.sandbox.seed(seed=1)
    assert all(entry["delivered_at"] is None for entry in hub.sandbox.outbox(1000))
    assert hub.sandbox.release_webhooks() == scenario["events"]
    assert hub.sandbox.release_webhooks() == 0
