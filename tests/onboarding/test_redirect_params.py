"""The redirect parser (contract section 2): what it accepts, what it refuses, and where the official one errs."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from services.onboarding.redirect_params import (
    CANCELLED,
    COMPLETED,
    NOTHING_SHARED,
    UNREADABLE,
    InvalidRedirect,
    Redirect,
    canonical_query,
    client_outcome,
    parse_redirect,
    split_query,
)


@pytest.mark.parametrize(
    ("query", "channels"),
    [
        ("client=aCL&channels=[aCH,bCH]", ("aCH", "bCH")),
        ("client=aCL&channels=%5BaCH%2CbCH%5D", ("aCH", "bCH")),
        ("client=aCL&channels=%5baCH%2cbCH%5d", ("aCH", "bCH")),
        ("client=aCL&channels=[aCH%2CbCH]", ("aCH", "bCH")),
        ("client=aCL&channels=%5BaCH,bCH]", ("aCH", "bCH")),
        ("client=aCL&channels=[aCH]", ("aCH",)),
        ("client=aCL&channels=[]", ()),
        ("client=aCL&channels=%5B%5D", ()),
        ("client=aCL&channels=", ()),
        ("client=aCL&channels=[%20]", ()),
        ("client=aCL&channels=[ aCH , bCH ]", ("aCH", "bCH")),
        ("client=aCL&channels=[%20aCH%20,%20bCH%20]", ("aCH", "bCH")),
        ("client=aCL&channels=[+aCH+,+bCH]", ("aCH", "bCH")),
        ("client=aCL&channels=aCH,bCH", ("aCH", "bCH")),
        ("client=aCL&channels=aCH", ("aCH",)),
        ("client=aCL&channels=[aCH,aCH,bCH]", ("aCH", "bCH")),
        ("client=aCL&channels=[bCH,aCH]", ("bCH", "aCH")),
        ("client=aCL&channels=[tlbN64CH,a_b-c]", ("tlbN64CH", "a_b-c")),
        ("?client=aCL&channels=[aCH]", ("aCH",)),
    ],
)
def test_channel_lists_raw_encoded_empty_and_spaced(query: str, channels: tuple[str, ...]) -> None:
    assert parse_redirect(query) == Redirect(client="aCL", channels=channels)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("client=oaY9LLfUCL&channels=[aCH]", Redirect("oaY9LLfUCL", ("aCH",))),
        ("client=%20aCL%20&channels=[aCH]", Redirect("aCL", ("aCH",))),
        ("client=aCL&channels=[aCH]&revoked=[cCH,dCH]", Redirect("aCL", ("aCH",), ("cCH", "dCH"))),
        ("client=aCL&channels=[aCH]&revoked=%5BcCH%5D", Redirect("aCL", ("aCH",), ("cCH",))),
        ("client=aCL&channels=[aCH]&revoked=[]", Redirect("aCL", ("aCH",), ())),
        ("client=aCL&channels=[]&revoked=[cCH]", Redirect("aCL", (), ("cCH",))),
        ("client=aCL&channels=[aCH]&state=s-1_x", Redirect("aCL", ("aCH",), state="s-1_x")),
        ("client=aCL&channels=[aCH]&state=", Redirect("aCL", ("aCH",), state=None)),
        ("client=aCL&channels=[aCH]&state=a%20b%2Fc", Redirect("aCL", ("aCH",), state="a b/c")),
        ("state=s1&channels=[aCH]&client=aCL", Redirect("aCL", ("aCH",), state="s1")),
        # Parameters this page does not read are ignored: a flag on redirect_url, tracking tags.
        ("popup=1&client=aCL&channels=[aCH]&utm_source=x&partner=p", Redirect("aCL", ("aCH",))),
    ],
)
def test_client_revoked_state_and_other_parameters(query: str, expected: Redirect) -> None:
    assert parse_redirect(query) == expected


def test_an_already_split_mapping_such_as_st_query_params() -> None:
    assert parse_redirect({"client": "aCL", "channels": "[aCH, bCH]", "revoked": ["[cCH]"], "x": "y"}) == Redirect(
        "aCL", ("aCH", "bCH"), ("cCH",)
    )


def official_parser(query: str) -> dict | None:
    """360dialog-connect-button 1.0.2's reading of the redirect (contract section 2), for comparison.

    Charitably assumed to decode values first (as URLSearchParams does); the flaws below remain.
    """
    params = {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}
    if "client" not in params or "channels" not in params:
        return None
    return {"client": params["client"], "channels": params["channels"][1:-1].split(",")}


@pytest.mark.parametrize(
    ("query", "official", "ours"),
    [
        # `[]` is no channel, not one empty id.
        ("client=aCL&channels=[]", [""], ()),
        # Spaces around ids stay in the official ids.
        ("client=aCL&channels=[aCH,%20bCH]", ["aCH", " bCH"], ("aCH", "bCH")),
        # Without brackets it cuts the first and last id short.
        ("client=aCL&channels=aCH,bCH", ["CH", "bC"], ("aCH", "bCH")),
        # A trailing comma gives it an empty id; here it is refused by name (see below).
        ("client=aCL&channels=[aCH,bCH,]", ["aCH", "bCH", ""], None),
    ],
)
def test_where_the_official_parser_is_wrong(query: str, official: list[str], ours: tuple[str, ...] | None) -> None:
    assert official_parser(query)["channels"] == official
    if ours is None:
        with pytest.raises(InvalidRedirect, match="empty id"):
            parse_redirect(query)
    else:
        assert parse_redirect(query).channels == ours


@pytest.mark.parametrize(
    ("query", "parameter", "shown"),
    [
        ("channels=[aCH]", "client", "client is missing"),
        ("client=&channels=[aCH]", "client", "client is missing"),
        ("client=%20&channels=[aCH]", "client", "client is missing"),
        ("client=aCL", "channels", "channels is missing"),
        ("client=aCL&revoked=[aCH]", "channels", "channels is missing"),
        ("", "client", "client is missing"),
        ("client=a;CL&channels=[aCH]", "client", "'a;CL'"),
        ("client=<script>&channels=[aCH]", "client", "'<script>'"),
        ("client=a%20b&channels=[aCH]", "client", "'a b'"),
        ("client=äCL&channels=[aCH]", "client", "'äCL'"),
        ("client=aCL&channels=[aCH;bCH]", "channels", "'aCH;bCH'"),
        ("client=aCL&channels=[aCH,b/CH]", "channels", "'b/CH'"),
        ("client=aCL&channels=[aCH,,bCH]", "channels", "empty id"),
        ("client=aCL&channels=[aCH,]", "channels", "empty id"),
        ("client=aCL&channels=[aCH", "channels", "unbalanced brackets"),
        ("client=aCL&channels=aCH]", "channels", "unbalanced brackets"),
        ("client=aCL&channels=[", "channels", "unbalanced brackets"),
        ("client=aCL&channels=[[aCH]]", "channels", "'[aCH]'"),
        ('client=aCL&channels=["aCH"]', "channels", "'\"aCH\"'"),
        # Encoded twice: the bracket survives one decoding and is refused, not guessed.
        ("client=aCL&channels=%255BaCH%255D", "channels", "'%5BaCH%5D'"),
        ("client=aCL&channels=[" + "a" * 65 + "]", "channels", "characters no id uses"),
        ("client=aCL&channels=[aCH]&revoked=[c!CH]", "revoked", "'c!CH'"),
        ("client=aCL&channels=[aCH]&revoked=[cCH", "revoked", "unbalanced"),
        ("client=aCL&channels=[aCH]&revoked=[aCH]", "revoked", "both granted and revoked"),
        ("client=aCL&client=bCL&channels=[aCH]", "client", "given 2 times"),
        ("client=aCL&channels=[aCH]&channels=[bCH]", "channels", "given 2 times"),
        ("client=aCL&channels=[aCH]&state=a%00b", "state", "control characters"),
        ("client=aCL&channels=[aCH]&state=" + "s" * 513, "state", "too long"),
    ],
)
def test_what_the_parser_refuses_names_the_parameter_and_value(query: str, parameter: str, shown: str) -> None:
    with pytest.raises(InvalidRedirect) as caught:
        parse_redirect(query)
    assert caught.value.parameter == parameter
    assert parameter in str(caught.value)
    assert shown in str(caught.value)


def test_a_flood_of_text_is_refused_before_it_is_read() -> None:
    with pytest.raises(InvalidRedirect, match="too long"):
        parse_redirect("client=aCL&channels=[aCH]&x=" + "a" * 9000)


def test_a_long_bad_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(InvalidRedirect) as caught:
        parse_redirect("client=" + "<" * 500 + "&channels=[]")
    assert len(str(caught.value)) < 120
    assert caught.value.value == "<" * 500


@pytest.mark.parametrize(
    "query",
    [
        "client=aCL&channels=[aCH,bCH]",
        "client=aCL&channels=%5BaCH%2CbCH%5D&revoked=[cCH]&state=s%201",
        "popup=1&client=aCL&channels=[]",
    ],
)
def test_the_canonical_query_reads_the_same_and_is_stable(query: str) -> None:
    canonical = canonical_query(split_query(query))
    assert parse_redirect(canonical) == parse_redirect(query)
    assert canonical_query(split_query(canonical)) == canonical


def test_the_canonical_query_keeps_brackets_and_commas_raw() -> None:
    assert canonical_query({"client": ["aCL"], "channels": ["[aCH,bCH]"], "state": ["a b&c"]}) == (
        "client=aCL&channels=[aCH,bCH]&state=a%20b%26c"
    )


@pytest.mark.parametrize(
    ("query", "outcome"),
    [
        ("client=aCL&channels=[aCH]", COMPLETED),
        ("client=aCL&channels=%5BaCH%2CbCH%5D&state=s", COMPLETED),
        ("error=access_denied", CANCELLED),
        ("error=access_denied&error_reason=user_denied&error_description=Permissions+error#_=_", CANCELLED),
        ("error_code=200&client=aCL&channels=[aCH]", CANCELLED),
        ("error=", CANCELLED),
        ("client=aCL&channels=[]", NOTHING_SHARED),
        ("client=aCL&channels=&revoked=[aCH]", NOTHING_SHARED),
        ("", UNREADABLE),
        ("channels=[aCH]", UNREADABLE),
        ("client=aCL&channels=[a<b>CH]", UNREADABLE),
        ("client=aCL&client=bCL&channels=[aCH]", UNREADABLE),
        ("client=aCL&channels=[aCH]&x=" + "y" * 9000, UNREADABLE),
    ],
)
def test_the_client_outcome_is_read_from_the_query_alone(query: str, outcome: str) -> None:
    assert client_outcome(query) == outcome


def test_a_cancel_cannot_be_read_as_a_grant() -> None:
    with pytest.raises(InvalidRedirect, match="did not finish onboarding: 360dialog sent error='access_denied'"):
        parse_redirect("error=access_denied&client=aCL&channels=[aCH]")
