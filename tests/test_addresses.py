"""The source of a request: the peer, or the last hop a trusted proxy added; never what a client wrote."""

import pytest

from services.addresses import InvalidProxyList, client_address, parse_trusted_proxies

LOOPBACK = parse_trusted_proxies("127.0.0.1")


def test_no_trusted_proxy_means_the_header_is_never_read() -> None:
    assert client_address("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"


def test_a_trusted_proxy_is_read_for_the_hop_it_added_only() -> None:
    assert client_address("127.0.0.1", "198.51.100.1, 203.0.113.9", LOOPBACK) == "203.0.113.9"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_choose_its_address() -> None:
    assert client_address("192.0.2.7", "203.0.113.9", LOOPBACK) == "192.0.2.7"


@pytest.mark.parametrize("header", ["360dialog-hub (verified)", "", "unknown", "::::", "1.2.3.4:80"])
def test_free_text_in_the_header_never_becomes_a_source(header: str) -> None:
    assert client_address("127.0.0.1", header, LOOPBACK) == "127.0.0.1"


def test_a_source_is_always_an_address_in_canonical_form() -> None:
    assert client_address("[::1]", None, ()) == "::1"
    assert client_address("not-an-address", None, ()) == "unknown"
    assert client_address(None, "203.0.113.9", LOOPBACK) == "unknown"


def test_networks_and_lists_parse_and_bad_items_are_named_by_position() -> None:
    assert len(parse_trusted_proxies("127.0.0.1, 10.0.0.0/8 ::1")) == 3
    assert parse_trusted_proxies(None) == ()
    assert client_address("10.2.3.4", "203.0.113.9", parse_trusted_proxies("10.0.0.0/8")) == "203.0.113.9"
    with pytest.raises(InvalidProxyList, match="item 2"):
        parse_trusted_proxies("127.0.0.1 proxy.example")
