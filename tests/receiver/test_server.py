"""The receiver over real HTTP: every way a request is refused, duplicates, arrays, 503s, concurrency."""

from __future__ import annotations

import base64
import json
import logging
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from services.events.signature import SIGNATURE_HEADER, sign_body
from services.receiver.server import WEBHOOK_PATH
from services.settings import SettingsError
from tests.support.receiver import (
    SECRET,
    RunningReceiver,
    event_body,
    receiver_settings,
    running_receiver,
    signed_headers,
)
from tests.support.servers import wait_for

pytestmark = pytest.mark.processes  # each test serves the app, and the app starts its writer process

MAX_BODY = 2048
TOKEN_HEADER = "x-partner-token"
TOKEN = "partner-token-value-0123456789"


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[RunningReceiver]:
    settings = receiver_settings(
        tmp_path,
        RECEIVER_MAX_BODY_BYTES=str(MAX_BODY),
        RECEIVER_AUTH_HEADER_NAME=TOKEN_HEADER,
        RECEIVER_AUTH_HEADER_VALUE=TOKEN,
    )
    with running_receiver(settings) as running:
        yield running


def good_headers(body: bytes, **extra: str) -> dict[str, str]:
    return {**signed_headers(body), TOKEN_HEADER: TOKEN, **extra}


# -- refused requests: one row per way a request can be wrong -------------------------------------------


@dataclass(frozen=True)
class BadRequest:
    send: Callable[[RunningReceiver], requests.Response]
    status: int
    reason: str


def _post(body: bytes, headers: dict[str, str]) -> Callable[[RunningReceiver], requests.Response]:
    return lambda receiver: requests.post(receiver.webhook_url, data=body, headers=headers, timeout=30)


def _method(name: str) -> Callable[[RunningReceiver], requests.Response]:
    return lambda receiver: requests.request(name, receiver.webhook_url, headers={TOKEN_HEADER: TOKEN}, timeout=30)


def _chunked(size: int) -> Callable[[RunningReceiver], requests.Response]:
    def send(receiver: RunningReceiver) -> requests.Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(size // 512):
                yield b" " * 512

        return requests.post(receiver.webhook_url, data=chunks(), headers={TOKEN_HEADER: TOKEN}, timeout=30)

    return send


BODY = event_body()
OTHER_SECRET = "not-the-platform-secret-0123456789"
BAD_REQUESTS = {
    "forged signature": BadRequest(
        _post(BODY, {**good_headers(BODY), SIGNATURE_HEADER: sign_body(BODY, OTHER_SECRET)}),
        401,
        "signature does not match",
    ),
    "signature of another body": BadRequest(
        _post(BODY, {**good_headers(BODY), SIGNATURE_HEADER: sign_body(event_body("evt-2"), SECRET)}),
        401,
        "signature does not match",
    ),
    "missing signature": BadRequest(
        _post(BODY, {TOKEN_HEADER: TOKEN, "content-type": "application/json"}), 401, "missing signature"
    ),
    "custom header missing": BadRequest(_post(BODY, signed_headers(BODY)), 401, "missing auth header"),
    "custom header wrong": BadRequest(
        _post(BODY, {**signed_headers(BODY), TOKEN_HEADER: "wrong-token"}), 401, "auth header does not match"
    ),
    "not JSON": BadRequest(_post(b"event=channel_created", good_headers(b"event=channel_created")), 400, "not JSON"),
    "not UTF-8": BadRequest(
        _post(b'{"event": "\xff\xfe"}', good_headers(b'{"event": "\xff\xfe"}')), 400, "body is not UTF-8"
    ),
    "JSON but not an object": BadRequest(_post(b"42", good_headers(b"42")), 400, "JSON object or an array"),
    "array of non-objects": BadRequest(_post(b"[1, 2]", good_headers(b"[1, 2]")), 400, "must be a JSON object"),
    "event name missing": BadRequest(_post(b'{"data": {}}', good_headers(b'{"data": {}}')), 400, "event name missing"),
    "empty array": BadRequest(_post(b"[]", good_headers(b"[]")), 400, "empty array"),
    "too large, by its Content-Length": BadRequest(
        _post(b" " * (MAX_BODY + 1), good_headers(b" " * (MAX_BODY + 1))), 413, f"larger than {MAX_BODY}"
    ),
    "too large, streamed without a length": BadRequest(_chunked(MAX_BODY * 2), 413, f"larger than {MAX_BODY}"),
    "GET": BadRequest(_method("GET"), 405, "method not allowed"),
    "PUT": BadRequest(_method("PUT"), 405, "method not allowed"),
    "DELETE": BadRequest(_method("DELETE"), 405, "method not allowed"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_is_refused_counted_and_logged_but_not_stored(receiver: RunningReceiver, case: BadRequest):
    response = case.send(receiver)

    assert response.status_code == case.status
    if case.status == 405:
        assert response.headers["allow"] == "POST"
    else:
        assert case.reason in response.json()["error"]
    # The rejection reaches the database with the next batch; a good delivery makes sure it has run.
    good = event_body("evt-after")
    assert receiver.post(good, good_headers(good)).status_code == 200
    assert receiver.stored_keys() == ["id:evt-after"]
    assert receiver.counters() == {"accepted": 1, "rejected": 1}
    [(source, status, reason)] = receiver.rejections()
    assert (source, status) == ("127.0.0.1", case.status)
    assert case.reason in reason


def test_a_body_over_the_limit_is_refused_before_it_is_sent(receiver: RunningReceiver):
    # Only the headers go out: the answer must come without waiting for a gigabyte that never arrives.
    host, port = receiver.url.removeprefix("http://").split(":")
    with closing(socket.create_connection((host, int(port)), timeout=10)) as sock:
        sock.sendall(
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\n{TOKEN_HEADER}: {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {1024**3}\r\n\r\n".encode()
        )
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")


def request_lines(captured: str) -> list[dict[str, object]]:
    """The request log's lines (`time receiver {json}`) among everything written to stderr."""
    return [json.loads(line.split(" receiver ", 1)[1]) for line in captured.splitlines() if " receiver {" in line]


def wait_for_request_lines(
    capsys: pytest.CaptureFixture[str], done: Callable[[list[dict[str, object]]], bool]
) -> list[dict[str, object]]:
    """The request lines written so far, once `done` holds for them: a line is written at the end of the
    receiver's loop turn, which may come just after the client has its answer."""
    written: list[str] = []

    def lines_when_done() -> list[dict[str, object]] | None:
        written.append(capsys.readouterr().err)
        lines = request_lines("".join(written))
        return lines if done(lines) else None

    return wait_for(lines_when_done)


def test_a_client_that_leaves_mid_body_is_logged_not_stored_nor_counted(
    receiver: RunningReceiver, capsys: pytest.CaptureFixture[str]
):
    host, port = receiver.url.removeprefix("http://").split(":")
    with closing(socket.create_connection((host, int(port)), timeout=10)) as sock:
        sock.sendall(
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\n{TOKEN_HEADER}: {TOKEN}\r\n"
            f'Content-Length: 1000\r\n\r\n{{"event": '.encode()
        )
    wait_for_request_lines(capsys, lambda lines: any(line["status"] == 499 for line in lines))
    good = event_body("evt-after")
    assert receiver.post(good, good_headers(good)).status_code == 200
    assert receiver.stored_keys() == ["id:evt-after"]
    assert receiver.counters() == {"accepted": 1}


# -- good requests ---------------------------------------------------------------------------------------


def _base64_signature(body: bytes) -> str:
    return base64.b64encode(bytes.fromhex(sign_body(body, SECRET))).decode()


@pytest.mark.parametrize(
    ("signature", "verdict"),
    [
        (lambda body: sign_body(body, SECRET), "valid"),
        (lambda body: "sha256=" + sign_body(body, SECRET), "valid (sha256=hex)"),
        (lambda body: "SHA256=" + sign_body(body, SECRET).upper(), "valid (sha256=upper-case hex)"),
        (_base64_signature, "valid (base64)"),
    ],
    ids=["bare hex", "sha256= prefix", "upper prefix", "base64"],
)
def test_a_signed_event_is_stored_in_any_signature_form_which_is_recorded(
    receiver: RunningReceiver, signature, verdict: str
):
    body = event_body("evt-1")
    response = receiver.post(body, {**good_headers(body), SIGNATURE_HEADER: signature(body)})

    assert response.status_code == 200
    assert response.json() == {"stored": 1, "duplicates": 0}
    assert receiver.listed("select dedupe_key, signature_verdict from events") == [("id:evt-1", verdict)]


def test_a_duplicate_is_answered_2xx_counted_and_not_stored_twice(receiver: RunningReceiver):
    body = event_body("evt-dup")
    first = receiver.post(body, good_headers(body))
    again = receiver.post(body, good_headers(body))

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"stored": 0, "duplicates": 1}
    assert receiver.listed("select dedupe_key, duplicate_count from events") == [("id:evt-dup", 1)]
    assert receiver.counters() == {"accepted": 1, "duplicate": 1}


def test_a_retry_without_an_event_id_is_recognised_by_its_content(receiver: RunningReceiver):
    body = event_body(None, "channel_running", status="running")
    reordered = json.dumps(dict(reversed(list(json.loads(body).items())))).encode()
    assert receiver.post(body, good_headers(body)).json() == {"stored": 1, "duplicates": 0}
    assert receiver.post(reordered, good_headers(reordered)).json() == {"stored": 0, "duplicates": 1}
    assert len(receiver.stored_keys()) == 1


def test_an_array_of_events_is_stored_event_by_event(receiver: RunningReceiver):
    first = json.loads(event_body("evt-a"))
    receiver.post(json.dumps(first).encode(), good_headers(json.dumps(first).encode()))
    batch = json.dumps(
        [first, json.loads(event_body("evt-b")), json.loads(event_body("evt-c", "template_messaging_enabled"))]
    ).encode()

    response = receiver.post(batch, good_headers(batch))

    assert response.status_code == 200
    assert response.json() == {"stored": 2, "duplicates": 1}
    assert receiver.stored_keys() == ["id:evt-a", "id:evt-b", "id:evt-c"]
    assert receiver.counters() == {"accepted": 3, "duplicate": 1}


def test_an_unknown_event_name_is_stored_as_it_is(receiver: RunningReceiver):
    body = event_body("evt-new", "brand_new_event_name")
    assert receiver.post(body, good_headers(body)).status_code == 200
    assert receiver.listed("select event_type, kind, raw_body from events") == [
        ("brand_new_event_name", "other", body.decode())
    ]


def test_health_reports_the_database_and_the_last_event(receiver: RunningReceiver):
    assert requests.get(receiver.url + "/healthz", timeout=10).json() == {
        "ok": True,
        "database": "ok",
        "last_event_at": None,
    }
    body = event_body("evt-1")
    receiver.post(body, good_headers(body))

    health = requests.get(receiver.url + "/healthz", timeout=10).json()

    [(received_at,)] = receiver.listed("select received_at from events")
    assert health == {"ok": True, "database": "ok", "last_event_at": received_at}


def test_one_log_line_per_request_without_body_or_secrets(
    receiver: RunningReceiver, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
):
    secret_marker = "body-marker-that-must-not-be-logged"
    body = event_body("evt-log", note=secret_marker)
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG):
        receiver.post(body, good_headers(body))
        receiver.post(body, {**good_headers(body), SIGNATURE_HEADER: "0" * 64})
        lines = wait_for_request_lines(capsys, lambda lines: len(lines) >= 2)
        time.sleep(0.2)  # a third line, which must not come, would be written by now
        lines += request_lines(capsys.readouterr().err)

    assert len(lines) == 2
    accepted, refused = lines
    assert accepted["status"] == 200
    assert accepted["event"] == "channel_created"
    assert accepted["latency_ms"] >= 0
    assert (refused["status"], refused["reason"]) == (401, "signature does not match")
    everything = json.dumps(lines) + caplog.text
    for never in (secret_marker, SECRET, TOKEN, sign_body(body, SECRET)):
        assert never not in everything


def test_a_flood_of_refusals_is_counted_whole_and_sampled_per_source(receiver: RunningReceiver):
    from services.receiver.stats import KEPT_PER_SOURCE

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: requests.get(receiver.webhook_url, timeout=30).status_code, range(220)))
    good = event_body("evt-after")
    receiver.post(good, good_headers(good))

    assert set(statuses) == {405}
    assert receiver.counters()["rejected"] == 220
    assert len(receiver.rejections()) == KEPT_PER_SOURCE


def test_refusals_with_no_delivery_after_them_are_written_within_seconds(receiver: RunningReceiver):
    wait_for(receiver.healthy)  # the writer has made the database
    for _ in range(5):
        assert requests.get(receiver.webhook_url, timeout=30).status_code == 405
    wait_for(lambda: receiver.counters().get("rejected") == 5, timeout=5)


def test_a_body_that_stalls_is_answered_408_and_the_connection_freed(tmp_path: Path):
    # The old behaviour: a body stopped at 10 of 1,000 bytes held its connection for 90 s and more.
    with running_receiver(receiver_settings(tmp_path, RECEIVER_BODY_TIMEOUT_SECONDS="0.5")) as receiver:
        wait_for(receiver.healthy)
        host, port = receiver.webhook_url.split("//")[1].split("/")[0].split(":")
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(
                b"POST /webhooks/360dialog HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n" + b'{"event": "x"'
            )
            answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 5
        wait_for(lambda: receiver.counters().get("rejected") == 1, timeout=5)
        assert "body not complete" in receiver.rejections()[0][2]


# -- the database cannot take the write -------------------------------------------------------------------


def test_a_locked_database_gets_503_and_nothing_acknowledged_is_missing(receiver: RunningReceiver):
    warm = event_body("evt-warm")
    assert receiver.post(warm, good_headers(warm)).status_code == 200
    blocker = sqlite3.connect(receiver.db_path, isolation_level=None)
    try:
        blocker.execute("begin immediate")  # holds the write lock past the receiver's 0.5 s timeout
        body = event_body("evt-locked")
        locked = receiver.post(body, good_headers(body))
        health = requests.get(receiver.url + "/healthz", timeout=10)
    finally:
        blocker.execute("rollback")
        blocker.close()

    assert locked.status_code == 503
    assert health.status_code == 200  # reading still works while another process writes
    assert receiver.stored_keys() == ["id:evt-warm"]
    # 360dialog retries; now the write goes through.
    assert receiver.post(body, good_headers(body)).status_code == 200
    assert receiver.stored_keys() == ["id:evt-warm", "id:evt-locked"]


def test_a_database_file_that_is_gone_gets_503_until_it_is_back(receiver: RunningReceiver, tmp_path: Path):
    first = event_body("evt-1")
    assert receiver.post(first, good_headers(first)).status_code == 200
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in receiver.db_path.parent.glob("console.db*"):
        path.rename(moved / path.name)

    gone = [receiver.post(body, good_headers(body)) for body in (event_body("evt-2"), event_body("evt-3"))]
    health = requests.get(receiver.url + "/healthz", timeout=10)

    assert [response.status_code for response in gone] == [503, 503]
    assert health.status_code == 503
    assert health.json() == {"ok": False, "database": "unreachable"}
    assert not receiver.db_path.exists()  # the receiver did not quietly start a new, empty database
    for path in moved.iterdir():
        path.rename(receiver.db_path.parent / path.name)
    retry = event_body("evt-2")
    assert receiver.post(retry, good_headers(retry)).status_code == 200
    assert receiver.stored_keys() == ["id:evt-1", "id:evt-2"]


# -- concurrency -------------------------------------------------------------------------------------------


def test_concurrent_deliveries_acknowledged_equals_stored(receiver: RunningReceiver):
    # 300 distinct events and 60 repeats of some of them, from 32 connections at once.
    bodies = [event_body(f"evt-{number}", data_marker=number) for number in range(300)]
    deliveries = bodies + bodies[::5]

    def deliver(body: bytes) -> tuple[str, int, dict]:
        with requests.Session() as session:
            response = session.post(receiver.webhook_url, data=body, headers=good_headers(body), timeout=60)
        return json.loads(body)["id"], response.status_code, response.json()

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(deliver, deliveries))

    assert {status for _, status, _ in results} == {200}
    acknowledged = {f"id:{event_id}" for event_id, _, _ in results}
    stored = receiver.stored_keys()
    assert len(stored) == len(set(stored)) == 300
    assert set(stored) == acknowledged
    assert sum(answer["stored"] for _, _, answer in results) == 300
    assert sum(answer["duplicates"] for _, _, answer in results) == 60
    assert receiver.counters() == {"accepted": 300, "duplicate": 60}


# -- configuration -----------------------------------------------------------------------------------------


def test_with_the_signature_check_off_the_custom_header_alone_admits(tmp_path: Path):
    settings = receiver_settings(
        tmp_path,
        RECEIVER_VERIFY_SIGNATURE="false",
        RECEIVER_AUTH_HEADER_NAME=TOKEN_HEADER,
        RECEIVER_AUTH_HEADER_VALUE=TOKEN,
    )
    body = event_body("evt-unsigned")
    with running_receiver(settings) as receiver:
        unsigned = receiver.post(body, {TOKEN_HEADER: TOKEN})
        no_token = receiver.post(event_body("evt-2"), {})

        assert (unsigned.status_code, no_token.status_code) == (200, 401)
        assert receiver.listed("select dedupe_key, signature_verdict from events") == [
            ("id:evt-unsigned", "not checked")
        ]


def test_the_signature_check_cannot_be_off_with_nothing_in_its_place(tmp_path: Path):
    with pytest.raises(SettingsError, match="RECEIVER_VERIFY_SIGNATURE"):
        receiver_settings(tmp_path, RECEIVER_VERIFY_SIGNATURE="false")
