"""Over 10,000 generated bad requests at the running receiver.

Checks: no 5xx but the documented 503, the process stays up, and an event is stored exactly when the
request was authenticated and well formed (answered 200); nothing from a bad request reaches the database.
"""

from __future__ import annotations

import json
import random
import secrets
import socket
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.support.receiver import STORED_KEYS_SQL, ReceiverProcess, start_receiver

pytestmark = pytest.mark.processes

SEED = 20260424
BAD_REQUESTS = 10_200
WORKERS = 6
MAX_BODY = 1024 * 1024
KNOWN_EVENTS = [
    "channel_created",
    "channel_status_running",
    "channel_running",
    "channel_live",
    "phone_number_quality_changed",
    "client_created",
    "channel_ready",
]
ODD_TEXT = ["<script>alert(1)</script>", "**bold**", "[x](http://evil)", "\u0000", "é😀", "'; drop table events;--"]


@dataclass
class Case:
    """One request, what it may be answered with, and the event id it carries (stored iff answered 200)."""

    category: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/webhooks/360dialog"
    allowed: frozenset[int] = frozenset({400})
    event_ids: tuple[str, ...] = ()
    bad: bool = True


def random_scalar(rng: random.Random) -> object:
    return rng.choice(
        [
            rng.randint(-(10**18), 10**18),
            10**40,
            rng.random() * 1e6,
            rng.choice(ODD_TEXT),
            secrets.token_hex(rng.randint(0, 8)),
            True,
            False,
            None,
        ]
    )


def random_value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return random_scalar(rng)
    if roll < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["id", "status", "client_id", "x", "setup_info", "client"]): random_value(rng, depth + 1)}


def event(rng: random.Random, event_id: str, name: str | None = None) -> dict:
    return {
        "id": event_id,
        "event": name or rng.choice([*KNOWN_EVENTS, "never_heard_of_it", "x" * 300, rng.choice(ODD_TEXT)]),
        "data": {
            "id": f"ch{rng.randint(0, 50)}",
            "client_id": f"cl{rng.randint(0, 20)}",
            "status": rng.choice(["created", "running", "ready", None, 5]),
            "setup_info": {"phone_number": "+49 151 0000001", "phone_name": rng.choice(ODD_TEXT)},
        },
    }


def encoded(document: object) -> bytes:
    return json.dumps(document).encode()


class CaseMaker:
    def __init__(self, secret: str, seed: int) -> None:
        self.secret = secret
        self.rng = random.Random(seed)
        self.count = 0

    def next_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.count}-{self.rng.getrandbits(32):08x}"

    def sign(self, body: bytes) -> dict[str, str]:
        import hashlib
        import hmac

        return {"x-360dialog-signature": hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()}

    # -- not authenticated: must be 401 (or 413 when too large) and never stored ------------------
    def missing_signature(self) -> Case:
        body = encoded(event(self.rng, self.next_id("bad")))
        headers = self.rng.choice([{}, {"x-360dialog-signature": ""}, {"x-360dialog-sig": "abc"}])
        return Case("missing signature", body, headers, allowed=frozenset({401}))

    def wrong_signature(self) -> Case:
        body = encoded(event(self.rng, self.next_id("bad")))
        other = encoded(event(self.rng, "other"))
        signature = self.rng.choice(
            [
                secrets.token_hex(32),
                "sha256=" + secrets.token_hex(32),
                self.sign(other)["x-360dialog-signature"],
                self.sign(body)["x-360dialog-signature"][:-1],
                self.sign(body)["x-360dialog-signature"] + "0",
                "sha1=" + self.sign(body)["x-360dialog-signature"],
                "x" * 8000,
                "é" * 64,
                "null",
                "[]",
            ]
        )
        if self.rng.random() < 0.2:
            import hashlib
            import hmac

            signature = hmac.new(b"wrong secret", body, hashlib.sha256).hexdigest()
        return Case("wrong signature", body, {"x-360dialog-signature": signature}, allowed=frozenset({401}))

    def truncated_unsigned(self) -> Case:
        full = encoded(event(self.rng, self.next_id("bad")))
        cut = full[: self.rng.randint(0, len(full) - 1)]
        return Case("truncated (signature of the full body)", cut, self.sign(full), allowed=frozenset({401}))

    def huge(self) -> Case:
        size = self.rng.choice([MAX_BODY + 1, MAX_BODY + 1000, 2 * MAX_BODY, 4 * MAX_BODY])
        body = b'{"event":"channel_created","id":"' + self.next_id("bad").encode() + b'","pad":"'
        body += b"a" * (size - len(body) - 2) + b'"}'
        headers = self.sign(body) if self.rng.random() < 0.5 else {}
        return Case("huge body", body, headers, allowed=frozenset({413}))

    # -- authenticated but malformed: must be 400 and never stored --------------------------------
    def truncated_signed(self) -> Case:
        full = encoded(event(self.rng, self.next_id("bad")))
        cut = full[: self.rng.randint(0, len(full) - 1)]
        return Case("truncated (signed as cut)", cut, self.sign(cut))

    def deeply_nested(self) -> Case:
        depth = self.rng.choice([2_000, 10_000, 100_000, 400_000])
        shape = self.rng.choice(["list", "object", "in-event"])
        if shape == "list":
            body = b"[" * depth + b"]" * depth
        elif shape == "object":
            body = b'{"a":' * depth + b"1" + b"}" * depth
        else:
            head = b'{"event":"x","id":"' + self.next_id("bad").encode() + b'","data":'
            body = head + b"[" * depth + b"]" * depth + b"}"
        # The deepest ones are also over the size limit.
        return Case(f"deeply nested {shape}", body, self.sign(body), allowed=frozenset({400, 413}))

    def wrong_types(self) -> Case:
        event_id = self.next_id("bad")
        document = self.rng.choice(
            [
                5,
                "channel_created",
                None,
                True,
                [],
                [1, 2],
                [{"event": "x", "id": event_id}, 3],
                {"event": 5, "id": event_id},
                {"event": "", "id": event_id},
                {"event": "   ", "id": event_id},
                {"event": None, "id": event_id},
                {"event": ["channel_created"], "id": event_id},
                {"event": {"name": "channel_created"}, "id": event_id},
                {"id": event_id, "data": {"id": "ch1"}},
                {},
                [[{"event": "x", "id": event_id}]],
                [{"event": "x", "id": event_id}] * 1001,
            ]
        )
        body = encoded(document)
        return Case("wrong types", body, self.sign(body))

    def not_utf8(self) -> Case:
        event_id = self.next_id("bad")
        text = json.dumps({"event": "channel_created", "id": event_id, "name": "Bäckerei"}, ensure_ascii=False)
        body = self.rng.choice(
            [
                text.encode("latin-1"),
                text.encode("utf-16"),
                text.encode("utf-32"),
                b"\xff\xfe\xfd" + text.encode(),
                text.encode()[:-3] + b"\xc3",
                bytes(self.rng.getrandbits(8) | 0x80 for _ in range(64)),
            ]
        )
        return Case("not UTF-8", body, self.sign(body))

    def broken_json(self) -> Case:
        event_id = self.next_id("bad")
        body = self.rng.choice(
            [
                b"",
                b" ",
                b"{",
                b"\xef\xbb\xbf" + encoded({"event": "x", "id": event_id}),
                b'{"event": "x", "id": "' + event_id.encode() + b'",}',
                b"{'event': 'x'}",
                b'{"event": "x", "id": "' + event_id.encode() + b'", "data": ' + b"9" * 5000 + b"}",
                b'{"event": "\\ud800", "id": "' + event_id.encode() + b'"}',
                b"event=channel_created&id=" + event_id.encode(),
                b"<xml><event>x</event></xml>",
                b"null" * 10,
            ]
        )
        return Case("broken JSON", body, self.sign(body))

    # -- odd methods and paths: 404/405 (or a slash redirect), never stored ------------------------
    def odd_method(self) -> Case:
        body = encoded(event(self.rng, self.next_id("bad")))
        method = self.rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND"])
        return Case("odd method", body, self.sign(body), method=method, allowed=frozenset({405}))

    def odd_path(self) -> Case:
        body = encoded(event(self.rng, self.next_id("bad")))
        path = self.rng.choice(
            [
                "/webhooks/360Dialog",
                "/webhooks/360dialog/",
                "/webhooks",
                "/webhooks/360dialog/extra",
                "/%2e%2e/%2e%2e/etc/passwd",
                "/healthz",
                "/" + "a" * 4000,
                "/webhooks/360dialog%00",
            ]
        )
        return Case("odd path", body, self.sign(body), path=path, allowed=frozenset({307, 404, 405}))

    # -- good requests mixed in: answered 200 and stored (unknown events included) ----------------
    def good(self) -> Case:
        event_id = self.next_id("good")
        document = event(self.rng, event_id)
        if self.rng.random() < 0.2:
            document["data"] = random_value(self.rng)
        body = encoded(document)
        headers = self.sign(body)
        roll = self.rng.random()
        if roll < 0.3:
            headers["content-type"] = self.rng.choice(
                [
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=nothing",
                    "application/json; charset=latin-1",
                    "image/png",
                    "garbage;;;=",
                ]
            )
        elif roll < 0.4:
            headers["x-360dialog-signature"] = "sha256=" + headers["x-360dialog-signature"].upper()
        return Case(
            "good (odd content types included)",
            body,
            headers,
            allowed=frozenset({200}),
            bad=False,
            event_ids=(event_id,),
        )

    def odd_content_type_unsigned(self) -> Case:
        body = encoded(event(self.rng, self.next_id("bad")))
        headers = {"content-type": self.rng.choice(["text/plain", "application/xml", "", "multipart/form-data"])}
        return Case("odd content type, unsigned", body, headers, allowed=frozenset({401}))

    def makers(self) -> list[tuple[Callable[[], Case], int]]:
        return [
            (self.missing_signature, 20),
            (self.wrong_signature, 25),
            (self.truncated_unsigned, 8),
            (self.truncated_signed, 8),
            (self.deeply_nested, 2),
            (self.wrong_types, 8),
            (self.not_utf8, 6),
            (self.broken_json, 6),
            (self.odd_method, 6),
            (self.odd_path, 4),
            (self.odd_content_type_unsigned, 5),
            (self.good, 10),
        ]

    def cases(self, bad_wanted: int) -> Iterator[Case]:
        makers, weights = zip(*self.makers(), strict=True)
        bad = 0
        huge_left = 24
        while bad < bad_wanted:
            if huge_left and self.rng.random() < 0.003:
                huge_left -= 1
                case = self.huge()
            else:
                case = self.rng.choices(makers, weights)[0]()
            bad += case.bad
            yield case


def session_pool() -> Callable[[], requests.Session]:
    local = threading.local()
    sessions: list[requests.Session] = []

    def get() -> requests.Session:
        if not hasattr(local, "session"):
            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
            local.session = session
            sessions.append(session)
        return local.session

    get.sessions = sessions  # type: ignore[attr-defined]
    return get


def send(receiver: ReceiverProcess, get_session: Callable[[], requests.Session], case: Case) -> int:
    response = get_session().request(
        case.method,
        receiver.url + case.path,
        data=case.body,
        headers=case.headers,
        timeout=60,
        allow_redirects=False,
    )
    return response.status_code


RAW_REQUESTS = [
    b"GARBAGE\r\n\r\n",
    b'POST /webhooks/360dialog HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"event"',
    b"POST /webhooks/360dialog HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
    b"POST /webhooks/360dialog HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /webhooks/360dialog HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
    b"POST /webhooks/360dialog HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
    b"POST /webhooks/360dialog HTTP/9.9\r\nHost: x\r\n\r\n",
    b"POST /webhooks/360dialog HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
]


def raw_status(receiver: ReceiverProcess, payload: bytes) -> int | None:
    """Send bytes that are not a valid HTTP request; the status line's code, or None if the server hung up."""
    host, port = receiver.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            reply = sock.recv(200)
        except OSError:
            return None
    if not reply.startswith(b"HTTP/1."):
        return None
    return int(reply.split()[1])


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverProcess]:
    running = start_receiver(tmp_path, secrets.token_urlsafe(32))
    yield running
    running.stop()


@pytest.mark.timeout(900)
def test_ten_thousand_bad_requests(receiver: ReceiverProcess) -> None:
    cases = list(CaseMaker(receiver.secret, SEED).cases(BAD_REQUESTS))
    get_session = session_pool()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        statuses = list(pool.map(lambda case: send(receiver, get_session, case), cases, chunksize=20))
    for session in get_session.sessions:
        session.close()
    raw = [raw_status(receiver, payload) for payload in RAW_REQUESTS * 5]

    by_category: dict[str, Counter] = {}
    unexpected = []
    for case, status in zip(cases, statuses, strict=True):
        by_category.setdefault(case.category, Counter())[status] += 1
        if status not in case.allowed:
            unexpected.append((case.category, status, case.body[:80]))
    print(f"\n{sum(case.bad for case in cases)} bad and {sum(not case.bad for case in cases)} good requests")
    for category, counts in sorted(by_category.items()):
        print(f"  {category}: {dict(counts)}")
    print(f"  raw malformed HTTP: {dict(Counter(raw))}")

    assert sum(case.bad for case in cases) >= 10_000
    server_errors = [status for status in [*statuses, *raw] if status is not None and status >= 500 and status != 503]
    assert not server_errors, f"{len(server_errors)} answers were 5xx"
    assert not unexpected, f"{len(unexpected)} unexpected answers, first ones: {unexpected[:5]}"
    assert receiver.process.poll() is None, receiver.log_path.read_text()[-3000:]
    assert receiver.healthy()

    acknowledged = {
        event_id for case, status in zip(cases, statuses, strict=True) if status == 200 for event_id in case.event_ids
    }
    assert acknowledged, "no good request was stored; the test proves nothing"
    with sqlite3.connect(receiver.db_path) as db:
        stored = {key.removeprefix("id:") for (key,) in db.execute(STORED_KEYS_SQL)}
        verdicts = {
            verdict
            for (verdict,) in db.execute(
                "select signature_verdict from events union select signature_verdict from incoming_events"
            )
        }
    db.close()
    assert not {key for key in stored if key.startswith("bad-")}, "a bad request was stored"
    assert stored == acknowledged
    # Every stored event passed the signature check, in whichever form it was signed.
    assert {verdict.split(" ")[0] for verdict in verdicts} == {"valid"}
    # A client that hangs up mid-body is logged by uvicorn as an unhandled ClientDisconnect; anything else
    # unhandled is a bug.
    log = receiver.log_path.read_text()
    assert log.count("Traceback") == log.count("starlette.requests.ClientDisconnect"), log[-3000:]


@pytest.mark.timeout(300)
def test_custom_auth_header_is_required_as_well(tmp_path: Path) -> None:
    """With RECEIVER_AUTH_HEADER_* set, a right signature without the right header is refused and not stored."""
    token = secrets.token_urlsafe(24)
    running = start_receiver(
        tmp_path,
        secrets.token_urlsafe(32),
        extra_env={"RECEIVER_AUTH_HEADER_NAME": "x-partner-token", "RECEIVER_AUTH_HEADER_VALUE": token},
    )
    try:
        maker = CaseMaker(running.secret, SEED + 1)
        statuses: Counter = Counter()
        accepted = set()
        with requests.Session() as session:
            for number in range(600):
                event_id = f"{'good' if number % 6 == 0 else 'bad'}-{number}"
                body = encoded(event(maker.rng, event_id))
                headers = maker.sign(body)
                if number % 6 == 0:
                    headers["x-partner-token"] = token
                else:
                    wrong = [None, "", token[:-1], token + "x", token.upper(), "é" * 10][number % 6]
                    if wrong is not None:
                        headers["x-partner-token"] = wrong
                status = session.post(running.webhook_url, data=body, headers=headers, timeout=30).status_code
                statuses[status] += 1
                if status == 200:
                    accepted.add(event_id)
        assert statuses == Counter({401: 500, 200: 100})
        with sqlite3.connect(running.db_path) as db:
            stored = {key.removeprefix("id:") for (key,) in db.execute(STORED_KEYS_SQL)}
        db.close()
        assert stored == accepted
        assert all(event_id.startswith("good-") for event_id in stored)
    finally:
        running.stop()
