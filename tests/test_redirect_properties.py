"""Properties of the redirect parser over generated input (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.onboarding.redirect import InvalidRedirect, canonical_query, parse_redirect, split_query

ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,20}\Z")
bracket_styles = st.sampled_from([("[", "]"), ("%5B", "%5D"), ("%5b", "%5d"), ("", "")])
commas = st.sampled_from([",", "%2C", " ,", ", ", "%20,%20"])


def write_list(items: list[str], brackets: tuple[str, str], comma: str) -> str:
    return brackets[0] + comma.join(items) + brackets[1]


@given(client=ids, channels=st.lists(ids, max_size=6), brackets=bracket_styles, comma=commas)
def test_every_writing_of_a_list_reads_as_its_ids_in_order(
    client: str, channels: list[str], brackets: tuple[str, str], comma: str
) -> None:
    query = f"client={client}&channels={write_list(channels, brackets, comma)}"
    assert parse_redirect(query).channels == tuple(dict.fromkeys(channels))


@given(client=ids, granted=st.lists(ids, max_size=4), revoked=st.lists(ids, max_size=4), state=st.text(max_size=30))
def test_canonical_query_round_trips(client: str, granted: list[str], revoked: list[str], state: str) -> None:
    params = {"client": [client], "channels": [write_list(granted, ("[", "]"), ",")], "state": [state]}
    revoked = [channel for channel in revoked if channel not in granted]
    params["revoked"] = [write_list(revoked, ("[", "]"), ",")]
    try:
        expected = parse_redirect(params)
    except InvalidRedirect:
        return  # a state with control characters; the refusal is tested by example
    canonical = canonical_query(split_query(params))
    assert parse_redirect(canonical) == expected
    assert canonical_query(split_query(canonical)) == canonical


@given(query=st.text(max_size=300))
def test_any_text_is_read_or_refused_with_invalid_redirect(query: str) -> None:
    try:
        redirect = parse_redirect(query)
    except InvalidRedirect:
        return
    assert redirect.client
    assert all(channel not in redirect.revoked for channel in redirect.channels)


@given(good=st.lists(ids, min_size=1, max_size=4), bad=st.text(min_size=1, max_size=10))
def test_an_id_with_a_character_no_id_uses_is_named(good: list[str], bad: str) -> None:
    bad = bad.strip()
    if not bad or all(char.isascii() and (char.isalnum() or char in "_-") for char in bad) or set(bad) & set(",[]"):
        return
    query = {"client": "aCL", "channels": write_list([*good, bad], ("[", "]"), ",")}
    with pytest.raises(InvalidRedirect) as caught:
        parse_redirect(query)
    assert caught.value.parameter == "channels"
    assert caught.value.value == bad
