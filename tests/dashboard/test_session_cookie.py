"""The session cookie's routes: a one-time code becomes an HttpOnly, SameSite=Lax cookie, and `next` never
leaves the console."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard.session_cookie import COOKIE_NAME, issue_handoff, safe_next, session_routes, session_url


@pytest.fixture
def client() -> TestClient:
    return TestClient(Starlette(routes=session_routes()), base_url="http://console.test", follow_redirects=False)


def test_a_code_sets_the_cookie_once_and_goes_to_the_page(client: TestClient) -> None:
    code = issue_handoff("signed-value", 3600, secure=False)
    answer = client.get(session_url(code, "/channels?open=aCH"))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/channels?open=aCH"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=signed-value;")
    for flag in ("HttpOnly", "Max-Age=3600", "Path=/", "SameSite=lax"):
        assert flag in cookie
    assert "Secure" not in cookie
    again = client.get(session_url(code, "/channels?open=aCH"))
    assert "set-cookie" not in again.headers, "a code is good once"


def test_behind_https_the_cookie_is_secure(client: TestClient) -> None:
    answer = client.get(session_url(issue_handoff("v", 60, secure=True), "/"))
    assert "Secure" in answer.headers["set-cookie"]


def test_an_unknown_code_sets_nothing(client: TestClient) -> None:
    answer = client.get("/console/session?code=guessed&next=/audit")
    assert answer.status_code == 303
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "", "channels", "/\r\nx"],
)
def test_next_never_leaves_the_console(client: TestClient, target: str) -> None:
    assert safe_next(target) == "/"
    answer = client.get("/console/session", params={"code": issue_handoff("v", 60, secure=False), "next": target})
    assert answer.headers["location"] == "/"


def test_sign_out_clears_the_cookie(client: TestClient) -> None:
    client.cookies.set(COOKIE_NAME, "v")
    answer = client.get("/console/sign-out")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    assert answer.headers["set-cookie"].startswith(f'{COOKIE_NAME}="";')
    assert "Max-Age=0" in answer.headers["set-cookie"]
