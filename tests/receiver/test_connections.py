"""The receiver as `make run` starts it, against raw sockets: idle and half-sent connections are closed within
seconds, a flood of them never stops a signed webhook, and a source is the socket's peer unless a trusted proxy
names another, always an IP address."""

from __future__ import annotations

import selectors
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import pytest
import requests

from services.receiver.stats import KEPT_PER_SOURCE
from services.stack.commands import RECEIVER_KEEP_ALIVE_SECONDS
from tests.support.receiver import SECRET, ReceiverProcess, event_body, start_receiver
from tests.support.servers import wait_for

pytestmark = pytest.mark.processes

HALF_SENT_HEAD = b"POST /webhooks/360dialog HTTP/1.1\r\nHost: receiver\r\nContent-Type: app"
# How late a connection may close after its deadline: scheduling on a loaded machine.
SLACK_SECONDS = 2.0
IDLE_SOCKETS = 300
HALF_SENT_SOCKETS = 30


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverProcess]:
    # At INFO each refusal logs a line with its source.
    running = start_receiver(tmp_path, SECRET, log_level="info")
    yield running
    running.stop()


def open_socket(receiver: ReceiverProcess, stack: ExitStack, first_bytes: bytes = b"") -> socket.socket:
    host, port = receiver.url.removeprefix("http://").split(":")
    sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=30))
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def close_times(socks: list[socket.socket], since: float, limit: float) -> list[float]:
    """How long after `since` the receiver closed each socket (end of stream or reset); fails past `limit`."""
    closed: dict[socket.socket, float] = {}
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        while len(closed) < len(socks):
            remaining = since + limit - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{len(socks) - len(closed)} of {len(socks)} still open after {limit:g} s")
            for key, _ in selector.select(timeout=remaining):
                sock = key.fileobj
                try:
                    ended = not sock.recv(4096)
                except ConnectionResetError:
                    ended = True
                if ended:
                    closed[sock] = time.monotonic() - since
                    selector.unregister(sock)
    return [closed[sock] for sock in socks]


def trickle(sock: socket.socket, data: bytes, stop: threading.Event) -> None:
    """A slow client: one byte of a request head every half second, until the receiver closes."""
    for byte in data:
        if stop.wait(0.5):
            return
        try:
            sock.send(bytes([byte]))
        except OSError:
            return


def signed_post_seconds(receiver: ReceiverProcess, event_id: str) -> tuple[int, float]:
    body = event_body(event_id)
    started = time.monotonic()
    answer = requests.post(
        receiver.webhook_url,
        data=body,
        headers={"x-360dialog-signature": receiver.sign(body), "content-type": "application/json"},
        timeout=10,
    )
    return answer.status_code, time.monotonic() - started


def test_idle_and_half_sent_connections_are_closed_within_seconds(receiver: ReceiverProcess) -> None:
    limit = RECEIVER_KEEP_ALIVE_SECONDS + SLACK_SECONDS
    stop = threading.Event()
    with ExitStack() as stack:
        opened = time.monotonic()
        idle = [open_socket(receiver, stack) for _ in range(3)]
        half_sent = [open_socket(receiver, stack, HALF_SENT_HEAD) for _ in range(3)]
        trickling = open_socket(receiver, stack, b"P")
        thread = threading.Thread(target=trickle, args=(trickling, HALF_SENT_HEAD[1:], stop))
        thread.start()
        try:
            closed_after = close_times([*idle, *half_sent, trickling], opened, limit)
        finally:
            stop.set()
            thread.join()
    # Not before the deadline (a client gets its full time), and not long after it.
    assert min(closed_after) >= RECEIVER_KEEP_ALIVE_SECONDS - 0.5, closed_after
    assert max(closed_after) < limit, closed_after


def test_a_kept_alive_connection_that_half_sends_its_next_request_is_closed(receiver: ReceiverProcess) -> None:
    body = event_body("evt-kept-alive")
    signature = receiver.sign(body).encode()
    request = (
        b"POST /webhooks/360dialog HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
        b"x-360dialog-signature: " + signature + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with ExitStack() as stack:
        sock = open_socket(receiver, stack, request)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        sock.sendall(HALF_SENT_HEAD)
        [closed_after] = close_times([sock], answered, RECEIVER_KEEP_ALIVE_SECONDS + SLACK_SECONDS)
        assert closed_after >= RECEIVER_KEEP_ALIVE_SECONDS - 0.5


def test_hundreds_of_idle_sockets_from_one_address_do_not_stop_a_signed_webhook(receiver: ReceiverProcess) -> None:
    with ExitStack() as stack:
        for _ in range(IDLE_SOCKETS):
            open_socket(receiver, stack)
        for _ in range(HALF_SENT_SOCKETS):
            open_socket(receiver, stack, HALF_SENT_HEAD)
        time.sleep(0.5)  # every one of them accepted and waiting
        status, seconds = signed_post_seconds(receiver, "evt-through-the-flood")
        assert (status, seconds < 2) == (200, True), (status, seconds)
        # While the idle ones are still held open on this side, a second delivery gets through as well.
        status, seconds = signed_post_seconds(receiver, "evt-second")
        assert (status, seconds < 2) == (200, True), (status, seconds)
    assert receiver.stored_keys() == ["id:evt-through-the-flood", "id:evt-second"]


def unsigned_post(receiver: ReceiverProcess, session: requests.Session, forwarded_for: str) -> int:
    body = event_body("evt-unsigned")
    headers = {"content-type": "application/json", "x-forwarded-for": forwarded_for}
    return session.post(receiver.webhook_url, data=body, headers=headers, timeout=10).status_code


def stored_sources(receiver: ReceiverProcess) -> list[str]:
    # Refusals reach the database with the writer's next batch, within a second.
    wait_for(lambda: receiver.counters().get("rejected"), timeout=10)
    return [source for source, _, _ in receiver.rejections()]


@pytest.mark.parametrize("forwarded_for", ["203.0.113.50", "360dialog-hub (verified)", "198.51.100.7, 203.0.113.9"])
def test_a_forwarded_for_header_from_an_untrusted_peer_never_becomes_the_source(
    receiver: ReceiverProcess, forwarded_for: str
) -> None:
    with requests.Session() as session:
        assert unsigned_post(receiver, session, forwarded_for) == 401
    assert stored_sources(receiver) == ["127.0.0.1"]
    logged = receiver.log_path.read_text()
    assert '"source": "127.0.0.1"' in logged
    assert forwarded_for not in logged


@pytest.mark.parametrize(
    ("forwarded_for", "source"),
    [
        ("203.0.113.50", "203.0.113.50"),
        ("198.51.100.7, 203.0.113.9", "203.0.113.9"),  # only the hop the proxy added
        ("360dialog-hub (verified)", "127.0.0.1"),  # not an address: the peer
        ("203.0.113.9, 360dialog-hub (verified)", "127.0.0.1"),
    ],
)
def test_behind_a_trusted_proxy_the_source_is_the_address_it_added(
    tmp_path: Path, forwarded_for: str, source: str
) -> None:
    receiver = start_receiver(tmp_path, SECRET, extra_env={"CONSOLE_TRUSTED_PROXIES": "127.0.0.1"})
    try:
        with requests.Session() as session:
            assert unsigned_post(receiver, session, forwarded_for) == 401
        assert stored_sources(receiver) == [source]
    finally:
        receiver.stop()


def test_a_refusal_flood_with_spoofed_addresses_keeps_other_sources_refusals(receiver: ReceiverProcess) -> None:
    others = [("2026-12-04T10:00:00+00:00", f"198.51.100.{n}", 401, "signature missing") for n in range(1, 4)]
    with closing(sqlite3.connect(receiver.db_path)) as db:
        db.executemany("insert into receiver_rejections (at, source, status, reason) values (?, ?, ?, ?)", others)
        db.commit()
    flood = 1100
    with requests.Session() as session:
        statuses = {unsigned_post(receiver, session, f"10.{n // 250}.{n % 250}.1") for n in range(flood)}
    assert statuses == {401}
    wait_for(lambda: receiver.counters().get("rejected") == flood, timeout=10)
    sources = [source for source, _, _ in receiver.rejections()]
    assert sources[:3] == [source for _, source, _, _ in others]
    assert sources[3:] == ["127.0.0.1"] * KEPT_PER_SOURCE
