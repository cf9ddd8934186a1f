"""The ConnectButton snippet the Connect page shows for a partner's own front end."""

from __future__ import annotations

from dashboard.connect_snippet import connect_button_snippet


def test_snippet_for_production_v1_is_minimal() -> None:
    snippet = connect_button_snippet("abcPA")
    assert snippet.endswith('<ConnectButton\n  partnerId={"abcPA"}\n  callback={handleCallback}\n/>')


def test_snippet_escapes_values_and_leaves_per_link_values_to_the_server() -> None:
    snippet = connect_button_snippet(
        "abcPA",
        env="rc",
        version="v2",
        params={"redirect_url": "https://x.test/l?a=1", "partner": 'x"</script>', "state": "s1", "io_signature": "z"},
    )
    assert 'env={"rc"}' in snippet
    assert 'version={"v2"}' in snippet
    assert 'partner: "x\\"\\u003c/script>",' in snippet
    assert "state:" not in snippet
    assert "io_signature:" not in snippet
    assert "create fresh ones on your server" in snippet
