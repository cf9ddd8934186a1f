"""IO Signature at the sandbox hub (contract section 3): a bad signature ends on an error page, not onboarding."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from services.onboarding.io_signature import SIGNATURE_LIFETIME_SECONDS, sign_io
from services.partner_api import PartnerApiError
from tests.support.servers import wait_for

pytestmark = pytest.mark.processes  # the sandbox hub and a receiver on uvicorn, a second or so a test


def _link(hub, **params) -> str:
    return f"{hub.url}/dashboard/app/{hub.settings.partner_id}/permissions?" + urlencode(params)


def _signed(hub, now: float | None = None) -> dict[str, str]:
    signature = sign_io(
        hub.settings.partner_id, hub.settings.platform_secret, encoding=hub.settings.io_signature_encoding, now=now
    )
    return {"io_signature": signature.signature, "io_timestamp": str(signature.timestamp)}


def _submit(hub, params: dict[str, str], form_page: requests.Response | None = None) -> requests.Response:
    """Post the hub's form; with the page that showed it, as a browser does (it carries the attempt's code)."""
    query = urlencode(params)
    if form_page is not None:
        query = html.unescape(re.search(r'name="query" value="([^"]*)"', form_page.text).group(1))
    form = {"query": query, "business_name": "Signed Shop", "numbers": "+49 151 3030303", "grant": "yes"}
    return requests.post(_link(hub), data=form, allow_redirects=False, timeout=10)


@pytest.mark.parametrize(
    ("make_params", "reason"),
    [
        (lambda hub: {}, "carries none"),
        (lambda hub: {"io_timestamp": str(int(time.time()))}, "carries none"),
        (lambda hub: {**_signed(hub), "io_timestamp": "yesterday"}, "not a number"),
        (lambda hub: {**_signed(hub), "io_signature": "0" * 128}, "not valid"),
        (lambda hub: {**_signed(hub), "io_timestamp": str(int(time.time()) - 60)}, "not valid"),
        (lambda hub: _signed(hub, now=time.time() - SIGNATURE_LIFETIME_SECONDS - 60), "expired"),
    ],
    ids=["missing", "timestamp-only", "timestamp-not-a-number", "wrong", "other-timestamp", "older-than-24h"],
)
def test_bad_signature_ends_on_an_error_page(make_hub, make_params, reason: str) -> None:
    hub = make_hub()
    params = {"redirect_url": "http://localhost:9/landing", **make_params(hub)}
    page = requests.get(_link(hub, **params), timeout=10)
    assert page.status_code == 403
    assert "Link not accepted" in page.text
    assert reason in page.text
    assert 'name="business_name"' not in page.text
    submitted = _submit(hub, params)
    assert submitted.status_code == 403
    api = hub.api()
    assert api.list_clients()["total"] == 0
    api.close()


def test_a_signature_works_once(make_hub) -> None:
    hub = make_hub()
    params = {"redirect_url": "http://localhost:9/landing", "state": "s1", **_signed(hub)}
    first = requests.get(_link(hub, **params), timeout=10)
    assert first.status_code == 200
    assert 'name="business_name"' in first.text
    # Showing the form started IO: the signature now finishes only the attempt it started.
    assert _submit(hub, params).status_code == 403
    done = _submit(hub, params, first)
    assert done.status_code == 303
    landing = urlsplit(done.headers["location"])
    query = parse_qs(landing.query)
    assert landing.path == "/landing"
    assert query["client"][0].endswith("CL")
    assert query["state"] == ["s1"]
    again = requests.get(_link(hub, **params), timeout=10)
    assert again.status_code == 403
    assert "already used" in again.text
    assert _submit(hub, params, first).status_code == 403
    api = hub.api()
    assert api.list_clients()["total"] == 1
    api.close()


def test_base64_signatures_when_the_setting_says_so(make_hub) -> None:
    hub = make_hub(D360_IO_SIGNATURE_ENCODING="base64")
    params = _signed(hub)
    assert params["io_signature"].endswith("=")
    assert requests.get(_link(hub, **params), timeout=10).status_code == 200


def test_no_signature_needed_when_the_partner_has_it_off(make_hub) -> None:
    hub = make_hub(D360_IO_SIGNATURE="false")
    page = requests.get(_link(hub, redirect_url="http://localhost:9/landing"), timeout=10)
    assert page.status_code == 200
    assert _submit(hub, {"redirect_url": "http://localhost:9/landing"}).status_code == 303


def _submit_without_signature(hub, params: dict[str, str], *, grant: bool = True) -> requests.Response:
    form = {"query": urlencode(params), "business_name": "Plain Shop", "numbers": "+49 151 5050505"}
    if grant:
        form["grant"] = "yes"
    return requests.post(_link(hub), data=form, allow_redirects=False, timeout=10)


def test_a_client_who_does_not_grant_permission(make_hub) -> None:
    hub = make_hub(D360_IO_SIGNATURE="false", SANDBOX_DIRECT_PAID="true", SANDBOX_RUNNING_DELAY_SECONDS="0")
    done = _submit_without_signature(hub, {"redirect_url": "http://localhost:9/landing"}, grant=False)
    assert done.status_code == 303
    query = parse_qs(urlsplit(done.headers["location"]).query)
    assert query["channels"] == ["[]"]
    api = hub.api()
    channel = api.list_channels()["partner_channels"][0]
    assert api.shared_client_numbers(channel["client_id"])["count"] == 0
    wait_for(lambda: api.list_channels(filters={"id": channel["id"]})["partner_channels"][0]["status"] == "running")
    with pytest.raises(PartnerApiError) as caught:
        api.generate_api_key(channel["id"])
    assert caught.value.kind == "forbidden"
    api.close()


def test_a_link_with_a_bad_redirect_url_onboards_nobody(make_hub) -> None:
    hub = make_hub(D360_IO_SIGNATURE="false")
    refused = _submit_without_signature(hub, {"redirect_url": "javascript:alert(1)"})
    assert refused.status_code == 400
    assert "redirect_url" in refused.text
    api = hub.api()
    assert api.list_clients()["total"] == 0
    api.close()
