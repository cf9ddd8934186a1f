"""Property tests for the IO link builder: values survive encoding, nothing leaks into the URL's structure."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.onboarding.io_link import HUB_PARAMETERS, HUB_TEMPLATES, InvalidLinkParameter, build_io_link

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OPTIONAL_PARAMETERS = [name for name in HUB_PARAMETERS if name != "number"]
# What encodeURIComponent leaves alone, plus the separators the builder itself writes.
QUERY_CHARACTERS = re.compile(r"^[A-Za-z0-9\-_.!~*'()%=&]*$")
partner_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1)
values = st.text(max_size=60) | st.integers(min_value=0, max_value=2**40)
# redirect_url must be an absolute http(s) URL (the builder refuses others); any other parameter takes any text.
redirect_urls = st.builds(lambda path: f"https://console.example/{path}", st.text(max_size=40))
link_params = st.dictionaries(
    st.sampled_from([name for name in OPTIONAL_PARAMETERS if name != "redirect_url"]),
    values,
    max_size=len(OPTIONAL_PARAMETERS) - 1,
).flatmap(
    lambda params: st.fixed_dictionaries({}, optional={"redirect_url": redirect_urls}).map(
        lambda extra: {**params, **extra}
    )
)


@PROPERTY_SETTINGS
@given(
    partner_ids,
    st.sampled_from(sorted(HUB_TEMPLATES)),
    st.sampled_from(["v1", "v2"]),
    st.none() | st.text(max_size=30),
    link_params,
)
def test_every_value_decodes_back_in_order(
    partner_id: str, env: str, version: str, number: str | None, params: dict
) -> None:
    link = build_io_link(partner_id, env=env, version=version, number=number, **params)
    parts = urlsplit(link)
    assert parts.fragment == ""
    assert partner_id in parts.path
    expected = [("number", number), *params.items()]
    expected = [(name, str(value)) for name, value in expected if value is not None and value != ""]
    assert parse_qsl(parts.query, keep_blank_values=True) == expected
    # Each value decodes with plain percent-decoding too (no '+' for spaces, as in JavaScript).
    assert [
        (name, unquote(value)) for name, value in (pair.split("=", 1) for pair in parts.query.split("&") if pair)
    ] == (expected)
    assert QUERY_CHARACTERS.match(parts.query)


@PROPERTY_SETTINGS
@given(partner_ids, st.text(alphabet="abcdefghijklmnopqrstuvwxyz/-._~", max_size=40), link_params)
def test_a_custom_hub_url_keeps_the_values(partner_id: str, hub_path: str, params: dict) -> None:
    hub_url = "https://hub.test/" + hub_path
    try:
        link = build_io_link(partner_id, hub_url=hub_url, **params)
    except InvalidLinkParameter:
        raise AssertionError("a valid partner id and known parameters were refused") from None
    query = link.split("?", 1)[1] if params and any(v not in (None, "") for v in params.values()) else ""
    expected = [(name, str(value)) for name, value in params.items() if value not in (None, "")]
    assert parse_qsl(query, keep_blank_values=True) == expected


@PROPERTY_SETTINGS
@given(st.text(max_size=30), st.text(max_size=20), st.text(max_size=20), st.dictionaries(st.text(max_size=12), values))
def test_any_input_builds_a_link_or_raises_invalid_link_parameter(
    partner_id: str, env: str, version: str, params: dict
) -> None:
    clash = set(params) & {"partner_id", "env", "version", "number", "hub_url"}
    try:
        link = build_io_link(partner_id, env=env, version=version, **params)
    except InvalidLinkParameter:
        return
    except TypeError:
        # Python itself refuses keyword names that clash with the named parameters.
        assert clash
        return
    assert link.startswith(("https://", "http://"))
    assert set(params) <= set(HUB_PARAMETERS)


@PROPERTY_SETTINGS
@given(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,24}", fullmatch=True).filter(lambda name: name not in HUB_PARAMETERS),
    values,
)
def test_unknown_parameters_are_refused(name: str, value: object) -> None:
    if name in {"partner_id", "env", "version", "number", "hub_url"}:
        return
    with pytest.raises(InvalidLinkParameter, match="does not accept"):
        build_io_link("demoPA", **{name: value})
