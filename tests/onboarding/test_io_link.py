"""The IO link builder (contract section 1): hosts, every parameter, encodeURIComponent, order."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.onboarding.io_link import HUB_PARAMETERS, InvalidLinkParameter, build_io_link, encode_uri_component

SANDBOX = "http://127.0.0.1:8503/dashboard/app"


@pytest.mark.parametrize(
    ("env", "version", "hub_url", "expected"),
    [
        ("prod", "v1", None, "https://hub.360dialog.com/dashboard/app/abcPA/permissions"),
        ("prod", "v2", None, "https://app.360dialog.com/onboarding/abcPA"),
        ("staging", "v1", None, "https://admin.hub-staging.360dialog.io/dashboard/app/abcPA/permissions"),
        ("staging", "v2", None, "https://staging-app.360dialog.com/onboarding/abcPA"),
        ("rc", "v1", None, "https://rc-admin.360dialog.io/dashboard/app/abcPA/permissions"),
        ("rc", "v2", None, "https://rc-app.360dialog.com/onboarding/abcPA"),
        ("local", "v1", None, "http://localhost:8082/dashboard/app/abcPA/permissions"),
        ("local", "v2", None, "http://localhost:8082/onboarding/abcPA"),
        ("sandbox", "v1", SANDBOX, "http://127.0.0.1:8503/dashboard/app/abcPA/permissions"),
        ("sandbox", "v2", SANDBOX, "http://127.0.0.1:8503/onboarding/abcPA"),
        ("sandbox", "v1", SANDBOX + "/", "http://127.0.0.1:8503/dashboard/app/abcPA/permissions"),
    ],
)
def test_host_and_path_per_environment_and_version(env: str, version: str, hub_url: str | None, expected: str) -> None:
    assert build_io_link("abcPA", env=env, version=version, hub_url=hub_url) == expected


def test_defaults_are_production_v1_with_the_documented_permissions_path() -> None:
    # The official button 1.0.2 leaves /permissions off for v1; the documented custom-IO entry has it.
    assert build_io_link("abcPA") == "https://hub.360dialog.com/dashboard/app/abcPA/permissions"


@pytest.mark.parametrize("name", [name for name in HUB_PARAMETERS if name not in ("number", "redirect_url")])
def test_every_hub_parameter_is_accepted_and_encoded(name: str) -> None:
    link = build_io_link("abcPA", **{name: "a b&c=d/e"})
    assert link.endswith(f"?{name}=a%20b%26c%3Dd%2Fe")
    assert parse_qs(urlsplit(link).query) == {name: ["a b&c=d/e"]}


def test_redirect_url_is_encoded_whole_with_its_own_query() -> None:
    link = build_io_link("abcPA", redirect_url="https://x.test/landing?popup=1&tag=a b")
    assert link.endswith("?redirect_url=https%3A%2F%2Fx.test%2Flanding%3Fpopup%3D1%26tag%3Da%20b")


# Expected strings are JavaScript's own encodeURIComponent results (MDN's examples and the ECMAScript rules).
@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("-_.!~*'()", "-_.!~*'()"),
        ("ABC abc 123", "ABC%20abc%20123"),
        (";,/?:@&=+$#", "%3B%2C%2F%3F%3A%40%26%3D%2B%24%23"),
        ("?x=шеллы", "%3Fx%3D%D1%88%D0%B5%D0%BB%D0%BB%D1%8B"),
        ("ü", "%C3%BC"),
        ("😀", "%F0%9F%98%80"),
        ("[a,b]", "%5Ba%2Cb%5D"),
        ('"<>%', "%22%3C%3E%25"),
        ("\n\t", "%0A%09"),
    ],
)
def test_values_are_encoded_like_encode_uri_component(value: str, encoded: str) -> None:
    assert encode_uri_component(value) == encoded
    assert build_io_link("abcPA", email=value).endswith(f"?email={encoded}")


def test_a_lone_surrogate_is_refused_as_encodeuricomponent_refuses_it() -> None:
    with pytest.raises(InvalidLinkParameter, match="cannot be encoded"):
        build_io_link("abcPA", name="\ud800")


def test_number_comes_first_whatever_the_order_given() -> None:
    link = build_io_link("abcPA", redirect_url="https://x.test/landing", state="s1", number="491510000001")
    assert urlsplit(link).query.startswith("number=491510000001&redirect_url=")


def official_button_query(number: str, params: dict[str, str]) -> str:
    """What 360dialog-connect-button 1.0.2 writes: `number` raw, the rest encoded (contract section 1)."""
    return "&".join([f"number={number}", *(f"{k}={encode_uri_component(v)}" for k, v in params.items())])


def test_number_is_encoded_where_the_official_button_leaves_it_raw() -> None:
    number = "+49 151 0000001"
    ours = urlsplit(build_io_link("abcPA", number=number, state="s1")).query
    assert ours == "number=%2B49%20151%200000001&state=s1"
    assert parse_qs(ours)["number"] == [number]
    # The official button's raw plus sign reaches the hub as a space: the number is lost.
    assert parse_qs(official_button_query(number, {"state": "s1"}))["number"] == [" 49 151 0000001"]


def test_parameters_keep_the_order_given_after_number() -> None:
    link = build_io_link("abcPA", number="1", lang="de", state="s", email="e@x.test", redirect_url="https://x.test")
    assert [name for name, _ in parse_qsl(urlsplit(link).query)] == ["number", "lang", "state", "email", "redirect_url"]


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_values_are_left_out(empty: str | None) -> None:
    assert build_io_link("abcPA", number=empty, email=empty, state="s") == (
        "https://hub.360dialog.com/dashboard/app/abcPA/permissions?state=s"
    )


def test_numbers_and_booleans_are_written_as_javascript_writes_them() -> None:
    link = build_io_link("abcPA", io_timestamp=1700000000, connect_client_user=True)
    assert urlsplit(link).query == "io_timestamp=1700000000&connect_client_user=true"


def test_env_and_version_are_not_url_parameters() -> None:
    assert "env=" not in build_io_link("abcPA", env="staging", version="v2", state="s")
    assert "version=" not in build_io_link("abcPA", env="staging", version="v2", state="s")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"colour": "red"}, "does not accept the parameter.*colour"),
        ({"env": "moon"}, "unknown hub environment 'moon'"),
        ({"version": "v3"}, "unknown hub version 'v3'"),
        ({"env": "sandbox"}, "sandbox environment needs hub_url"),
        ({"hub_url": "ftp://x.test/dashboard/app"}, "hub_url must be an http"),
        ({"hub_url": "https://x.test/dashboard/app?x=1"}, "without query"),
        ({"redirect_url": "javascript:alert(1)"}, "redirect_url must be an absolute http"),
        ({"redirect_url": "/landing"}, "redirect_url must be an absolute http"),
    ],
)
def test_what_the_builder_refuses(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidLinkParameter, match=message):
        build_io_link("abcPA", **kwargs)


@pytest.mark.parametrize("partner_id", ["", "ab/PA", "ab PA", "ab?PA", "ab#PA", "äbPA"])
def test_partner_ids_that_cannot_sit_in_a_path_are_refused(partner_id: str) -> None:
    with pytest.raises(InvalidLinkParameter, match="partner_id"):
        build_io_link(partner_id)


text_without_surrogates = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40)


@given(values=st.dictionaries(st.sampled_from(HUB_PARAMETERS), text_without_surrogates, min_size=1))
def test_any_values_come_back_unchanged_when_the_hub_decodes_them(values: dict[str, str]) -> None:
    number = values.pop("number", None)
    values.pop("redirect_url", None)  # checked separately: it must be an http(s) URL
    link = build_io_link("abcPA", number=number, **values)
    expected = ([("number", number)] if number else []) + list(values.items())
    assert parse_qsl(urlsplit(link).query, keep_blank_values=True) == expected
