"""The receiver's writer, in a process of its own: parsing and storing never compete with the HTTP side.

The receiver (`WriterProcess`) hands each signed delivery's raw body over a socket pair and awaits the
answer; the child (`python -m services.receiver.writer_process`, `serve`) takes everything that has arrived, parses it,
stores it in one transaction (services.receiver.batch_writer) and only then answers. One process per side means
one interpreter lock per side: under load the HTTP side's lock was otherwise handed back and forth with the
writer's many times per batch.

Frames are a 4-byte big-endian length and a pickle. Pickle is safe here only because the socket pair joins
two processes of ours and nothing else can write to it; nothing from the network is ever unpickled, bodies
travel as bytes.

The child stops when its input ends: it stores and answers what it has read, then exits. It ignores SIGINT
and SIGTERM, so that a signal meant for the receiver (Ctrl-C in a terminal, a service manager stopping the
whole group) cannot cut the writes the receiver is still waiting for. If the receiver dies, the input ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import pickle
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.events.store import SaveResult
from services.events.webhook import MalformedWebhook, parse_webhook_body
from services.receiver.batch_writer import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    MAX_BATCH_EVENTS,
    BatchWriter,
    Delivery,
    DeliveryNotStored,
    StorageUnavailable,
)
from services.receiver.stats import Rejection
from services.settings import PROJECT_ROOT

log = logging.getLogger("receiver.writer")
LENGTH_BYTES = 4
# Deliveries waiting for an answer; past this the receiver answers 503 instead of holding more bodies in memory.
MAX_WAITING_DELIVERIES = 5000
# Incoming events listed per transaction while deliveries keep arriving (services.events.incoming).
LISTING_BATCH_EVENTS = 200
# No delivery for this long and the writer lists everything incoming: the console lists events this soon
# after a burst, and within a burst listing waits for a whole batch.
CALM_SECONDS = 0.002
# A child that dies sooner than this after starting is restarted after a growing pause, not at once.
QUICK_DEATH_SECONDS = 2.0
MAX_RESTART_PAUSE_SECONDS = 5.0
STOP_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class StoredDelivery:
    """A delivery the writer committed: how many of its events were new, and what they were."""

    stored: int
    duplicates: int
    event_type: str
    events: int


def encode_frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(LENGTH_BYTES, "big") + payload


def decode_frame(payload: bytes | memoryview) -> Any:
    return pickle.loads(payload)  # noqa: S301 - only ever a frame of ours, from the other end of our socket pair


# -- the child: read what has arrived, store it in one transaction, answer --------------------------------


class FrameReader:
    """Whole frames from a blocking socket, as many as have arrived at each call."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def read_available(self) -> list[Any] | None:
        """Every message that has arrived, waiting for at least one; None once the input has ended."""
        while True:
            messages = self._take_whole_frames()
            if messages:
                return messages
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                return None  # a partial frame at the end was never sent whole: nobody waits for its answer
            self._buffer += chunk

    def input_waiting(self, timeout: float) -> bool:
        """Whether more input has arrived since the last read (part of a frame counts), waiting up to
        `timeout` seconds for some."""
        if self._buffer:
            return True
        readable, _, _ = select.select([self._sock], [], [], timeout)
        return bool(readable)

    def _take_whole_frames(self) -> list[Any]:
        messages = []
        start = 0
        view = memoryview(self._buffer)
        while len(view) - start >= LENGTH_BYTES:
            length = int.from_bytes(view[start : start + LENGTH_BYTES], "big")
            end = start + LENGTH_BYTES + length
            if end > len(view):
                break
            messages.append(decode_frame(view[start + LENGTH_BYTES : end]))
            start = end
        view.release()
        del self._buffer[:start]
        return messages


def answer_messages(writer: BatchWriter, messages: list[Any], max_batch_events: int = MAX_BATCH_EVENTS) -> list[Any]:
    """Store the deliveries among `messages` (in batches of at most `max_batch_events` events), log the
    rejections with them, answer the probes afterwards. Returns (request id, kind, value) answers."""
    answers: list[tuple[int, str, Any]] = []
    rejections: list[Rejection] = []
    batch: list[tuple[int, Delivery]] = []
    batch_events = 0
    probes: list[int] = []
    for message in messages:
        kind = message[0]
        if kind == "deliver":
            _, request_id, body, headers, verdict = message
            try:
                events = parse_webhook_body(body)
            except MalformedWebhook as error:
                answers.append((request_id, "malformed", str(error)))
                continue
            if batch and batch_events + len(events) > max_batch_events:
                answers.extend(_store(writer, batch, rejections))
                batch, batch_events, rejections = [], 0, []
            batch.append((request_id, Delivery(events, headers, verdict)))
            batch_events += len(events)
        elif kind == "reject":
            rejections.append(Rejection(*message[1:]))
        elif kind == "probe":
            probes.append(message[1])
    if batch or rejections:
        answers.extend(_store(writer, batch, rejections))
    for request_id in probes:
        try:
            answers.append((request_id, "probe", writer.last_event_at()))
        except StorageUnavailable as error:
            answers.append((request_id, "unavailable", str(error)))
    return answers


def _store(writer: BatchWriter, batch: list[tuple[int, Delivery]], rejections: list[Rejection]) -> list[Any]:
    outcomes = writer.store([delivery for _, delivery in batch], rejections)
    answers = []
    for (request_id, delivery), outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, SaveResult):
            value = (outcome.stored, outcome.duplicates, delivery.events[0].event_type, len(delivery.events))
            answers.append((request_id, "stored", value))
        elif isinstance(outcome, DeliveryNotStored):
            answers.append((request_id, "not_stored", str(outcome)))
        else:
            answers.append((request_id, "unavailable", str(outcome)))
    return answers


def serve(
    sock: socket.socket,
    writer: BatchWriter,
    max_batch_events: int = MAX_BATCH_EVENTS,
    listing_batch_events: int = LISTING_BATCH_EVENTS,
) -> None:
    """Answer until the input ends, then list what is left and close the database.

    Deliveries are stored as incoming events and answered at once; they are listed (listed in the console)
    a batch at a time whenever a batch has gathered, and batch after batch for as long as no delivery
    arrives (services.events.incoming). New deliveries always go first, however large the backlog."""
    reader = FrameReader(sock)
    try:
        writer.list_batch(listing_batch_events)  # opens the database, and starts on what an earlier writer left
        while True:
            # A calm moment, or a retry after failed listing, with nothing else to do meanwhile.
            calm = max(CALM_SECONDS, writer.seconds_until_listing_retry)
            if writer.unlisted and not reader.input_waiting(calm):
                writer.list_batch(listing_batch_events)
                continue
            messages = reader.read_available()
            if messages is None:
                break
            answers = answer_messages(writer, messages, max_batch_events)
            if answers:
                sock.sendall(encode_frame(answers))
            if writer.unlisted >= listing_batch_events:
                writer.list_batch(listing_batch_events)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the receiver is gone; what was committed stays committed
    finally:
        if writer.unlisted:
            writer.list_all(listing_batch_events)
        writer.close()


def main(argv: list[str] | None = None) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m services.receiver.writer_process")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--busy-timeout", type=float, default=DEFAULT_BUSY_TIMEOUT_SECONDS)
    parser.add_argument("--max-batch-events", type=int, default=MAX_BATCH_EVENTS)
    parser.add_argument("--listing-batch-events", type=int, default=LISTING_BATCH_EVENTS)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    with socket.socket(fileno=args.fd) as sock:
        writer = BatchWriter(args.db, busy_timeout_seconds=args.busy_timeout)
        serve(sock, writer, args.max_batch_events, args.listing_batch_events)
    return 0


# -- the receiver's side: futures answered from the child's frames ----------------------------------------


class WriterProcess:
    """Starts and watches the writer process; methods are called from the receiver's event loop."""

    def __init__(
        self,
        db_path: Path,
        *,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        max_batch_events: int = MAX_BATCH_EVENTS,
        listing_batch_events: int = LISTING_BATCH_EVENTS,
        max_waiting: int = MAX_WAITING_DELIVERIES,
        log_level: str = "INFO",
    ) -> None:
        self._command = [
            sys.executable,
            "-m",
            "services.receiver.writer_process",
            "--db",
            str(db_path),
            "--busy-timeout",
            str(busy_timeout_seconds),
            "--max-batch-events",
            str(max_batch_events),
            "--listing-batch-events",
            str(listing_batch_events),
            "--log-level",
            log_level,
        ]
        self._max_waiting = max_waiting
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future] = {}
        self._waiting_deliveries = 0
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._transport: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._started_at = 0.0
        self._process: subprocess.Popen | None = None
        self._watcher: asyncio.Task | None = None
        self._closing = False

    @property
    def pid(self) -> int | None:
        """The child's process id while one runs."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    async def start(self) -> None:
        """Start the child; deliveries submitted before it is ready wait in its socket."""
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch())

    def submit(self, body: bytes, headers: dict[str, str], verdict: str) -> asyncio.Future:
        """A future for a StoredDelivery once the body's events are committed. It fails with MalformedWebhook,
        DeliveryNotStored or StorageUnavailable, the last also when too many deliveries are waiting."""
        if self._waiting_deliveries >= self._max_waiting:
            return self._failed(StorageUnavailable("too many deliveries waiting for the database"))
        future = self._send("deliver", body, headers, verdict)
        if not future.done():
            self._waiting_deliveries += 1
            future.add_done_callback(self._delivery_answered)
        return future

    def probe(self) -> asyncio.Future:
        """A future for the last stored event's time; fails with StorageUnavailable if the database is not there."""
        return self._send("probe")

    def reject(self, rejection: Rejection) -> None:
        """Log a refused request; it is written with the next batch, and lost only if that batch fails."""
        if self._transport is not None and not self._closing:
            self._queue(encode_frame(("reject", rejection.at, rejection.source, rejection.status, rejection.reason)))

    async def close(self, timeout: float = STOP_GRACE_SECONDS) -> None:
        """Refuse new work, let the child store and answer everything sent, and wait for it to exit."""
        if self._closing:
            return
        self._closing = True
        self._flush()
        if self._transport is not None:
            with contextlib.suppress(OSError):
                self._transport.write_eof()
        if self._watcher is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._watcher), timeout)
            except TimeoutError:
                log.error("the writer process did not finish within %s s; stopping it", timeout)
                self._kill()
                await self._watcher

    # -- sending -----------------------------------------------------------------------------------------

    def _send(self, kind: str, *fields: object) -> asyncio.Future:
        if self._closing:
            return self._failed(StorageUnavailable("the receiver is shutting down"))
        if self._transport is None:
            return self._failed(StorageUnavailable("the writer process is restarting"))
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._queue(encode_frame((kind, request_id, *fields)))
        return future

    def _queue(self, frame: bytes) -> None:
        # One write per turn of the event loop, however many requests reached the writer in it.
        self._outbox.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._outbox and self._transport is not None:
            self._transport.write(b"".join(self._outbox))
        self._outbox.clear()

    def _failed(self, error: BaseException) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        future.set_exception(error)
        return future

    def _delivery_answered(self, _future: asyncio.Future) -> None:
        self._waiting_deliveries -= 1

    # -- the child ---------------------------------------------------------------------------------------

    async def _spawn(self) -> None:
        parent_end, child_end = socket.socketpair()
        with child_end:
            self._process = subprocess.Popen(
                [*self._command, "--fd", str(child_end.fileno())],
                pass_fds=(child_end.fileno(),),
                cwd=PROJECT_ROOT,
                # Its own process group: Ctrl-C in a terminal reaches the receiver, which then closes the input.
                process_group=0,
            )
        self._started_at = time.monotonic()
        self._reader, self._transport = await asyncio.open_unix_connection(sock=parent_end)

    async def _watch(self) -> None:
        pause = 0.0
        while self._reader is not None:
            await self._read_answers(self._reader)
            self._fail_pending(StorageUnavailable("the writer process stopped"))
            transport, self._transport = self._transport, None
            if transport is not None:
                transport.close()
            returncode = await asyncio.to_thread(self._wait_for_child)
            if self._closing:
                return
            log.error("the writer process stopped (exit code %s); starting it again", returncode)
            lived = time.monotonic() - self._started_at
            pause = 0.0 if lived > QUICK_DEATH_SECONDS else min(MAX_RESTART_PAUSE_SECONDS, max(0.2, pause * 2))
            await asyncio.sleep(pause)
            if self._closing:
                return
            await self._spawn()

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = int.from_bytes(await reader.readexactly(LENGTH_BYTES), "big")
                for request_id, kind, value in decode_frame(await reader.readexactly(length)):
                    self._settle(request_id, kind, value)

    def _settle(self, request_id: int, kind: str, value: Any) -> None:
        future = self._pending.pop(request_id, None)
        if future is None or future.done():
            return
        if kind == "stored":
            future.set_result(StoredDelivery(*value))
        elif kind == "probe":
            future.set_result(value)
        elif kind == "malformed":
            future.set_exception(MalformedWebhook(value))
        elif kind == "not_stored":
            future.set_exception(DeliveryNotStored(value))
        else:
            future.set_exception(StorageUnavailable(value))

    def _fail_pending(self, error: StorageUnavailable) -> None:
        pending, self._pending = self._pending, {}
        self._outbox.clear()
        for future in pending.values():
            if not future.done():
                future.set_exception(StorageUnavailable(str(error)))

    def _wait_for_child(self) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self._kill()
            return self._process.wait()

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()


if __name__ == "__main__":
    sys.exit(main())
