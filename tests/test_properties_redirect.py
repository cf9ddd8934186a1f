"""Property tests for the redirect parser: any input is parsed or refused with InvalidRedirect, nothing else."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.onboarding.redirect import ID_PATTERN, InvalidRedirect, Redirect, parse_redirect

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
ids = st.text(alphabet=ID_ALPHABET, min_size=1, max_size=64)
id_lists = st.lists(ids, max_size=8)
states = st.text(alphabet=ID_ALPHABET, min_size=1, max_size=128)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_refuse(query: object) -> Redirect | None:
    try:
        redirect = parse_redirect(query)
    except InvalidRedirect as error:
        message = str(error)
        redirect = None
    if redirect is None:
        assert message
        return None
    assert isinstance(redirect, Redirect)
    for value in (redirect.client, *redirect.channels, *redirect.revoked):
        assert ID_PATTERN.match(value)
    return redirect


def formatted(values: list[str]) -> str:
    return "[" + ",".join(values) + "]"


def unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
@example("client=&channels=[]")
@example("client=a&channels=[")
@example("client=a&channels=%5Ba%2C%2Cb%5D")
@example("client=a&client=b&channels=[]")
@example("?client=a&channels=[]&state=%00")
@example("client=a&channels=[]" + "&x=1" * 3000)
def test_any_query_string_is_parsed_or_refused(query: str) -> None:
    parse_or_refuse(query)


@PROPERTY_SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_as_latin1_query_are_parsed_or_refused(raw: bytes) -> None:
    parse_or_refuse(raw.decode("latin-1"))


@PROPERTY_SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["client", "channels", "revoked", "state", "other"]) | st.text(max_size=10),
        st.text(max_size=80) | st.lists(st.text(max_size=40), max_size=3),
        max_size=6,
    )
)
def test_any_mapping_is_parsed_or_refused(params: dict) -> None:
    parse_or_refuse(params)


@PROPERTY_SETTINGS
@given(ids, id_lists, id_lists, st.none() | states, st.booleans())
def test_a_formatted_redirect_parses_back(
    client: str, channels: list[str], revoked: list[str], state: str | None, encode_brackets: bool
) -> None:
    # A channel cannot be both granted and revoked in one redirect (the parser refuses that).
    revoked = [channel for channel in revoked if channel not in channels]
    params = {"client": client, "channels": formatted(channels), "revoked": formatted(revoked)}
    if state is not None:
        params["state"] = state
    safe = "" if encode_brackets else "[],"
    redirect = parse_redirect("?" + urlencode(params, safe=safe, quote_via=quote))
    assert redirect == Redirect(client, unique(channels), unique(revoked), state)


@PROPERTY_SETTINGS
@given(ids, id_lists, st.sampled_from(["", " ", "  "]))
def test_spaces_around_ids_and_as_mapping(client: str, channels: list[str], pad: str) -> None:
    padded = "[" + ",".join(f"{pad}{channel}{pad}" for channel in channels) + "]"
    redirect = parse_redirect({"client": client, "channels": [padded]})
    assert redirect.client == client
    assert redirect.channels == unique(channels)
    assert redirect.revoked == ()


@PROPERTY_SETTINGS
@given(ids, id_lists, st.text(alphabet="<>\"'&;:/ .*[]()!#%", min_size=1, max_size=10))
def test_ids_with_foreign_characters_are_refused(client: str, channels: list[str], junk: str) -> None:
    # Inside the id: spaces around an id are allowed, and a comma would only split it in two.
    bad = f"{client}{junk}x"
    with pytest.raises(InvalidRedirect, match="channels"):
        parse_redirect({"client": client, "channels": formatted([*channels, bad])})
