"""The writer process itself (`python -m services.receiver.writer_main`): read, store together, answer.

It takes every frame that has arrived, parses the bodies, stores them in one transaction
(services.receiver.group_commit) and only then answers; between deliveries it lists incoming events.
It stops when its input ends: it stores and answers what it has read, lists the rest, then exits. It
ignores SIGINT and SIGTERM, so that a signal meant for the receiver (Ctrl-C in a terminal, a service
manager stopping the whole group) cannot cut the writes the receiver is still waiting for. If the receiver
dies, the input ends.
"""

from __future__ import annotations

import argparse
import logging
import select
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from services.events.store import SaveResult
from services.events.webhook import MalformedWebhook, parse_webhook_body
from services.receiver.frames import LENGTH_BYTES, decode_frame, encode_frame
from services.receiver.group_commit import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    MAX_BATCH_EVENTS,
    BatchWriter,
    Delivery,
    DeliveryNotStored,
    StorageUnavailable,
)
from services.receiver.stats import Rejection

log = logging.getLogger("receiver.writer")
# Incoming events listed per transaction while deliveries keep arriving (services.events.incoming).
LISTING_BATCH_EVENTS = 200
# No delivery for this long and the writer lists everything incoming: the console lists events this soon
# after a burst, and within a burst listing waits for a whole batch.
CALM_SECONDS = 0.002
# Refused requests wait in memory at most this long before they are written (with their counter).
REJECTION_FLUSH_SECONDS = 1.0


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


def answer_messages(
    writer: BatchWriter,
    messages: list[Any],
    max_batch_events: int = MAX_BATCH_EVENTS,
    held_rejections: list[Rejection] | None = None,
) -> list[Any]:
    """Store the deliveries among `messages` (in batches of at most `max_batch_events` events), log the
    rejections with them, answer the probes afterwards. Returns (request id, kind, value) answers.

    With `held_rejections`, rejections wait in that list until a batch is stored (they join it) or the
    caller flushes them: refused requests then cost no commit of their own."""
    answers: list[tuple[int, str, Any]] = []
    rejections: list[Rejection] = held_rejections if held_rejections is not None else []
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
                batch, batch_events = [], 0
            batch.append((request_id, Delivery(events, headers, verdict)))
            batch_events += len(events)
        elif kind == "reject":
            rejections.append(Rejection(*message[1:]))
        elif kind == "probe":
            probes.append(message[1])
    if batch or (rejections and held_rejections is None):
        answers.extend(_store(writer, batch, rejections))
    for request_id in probes:
        try:
            answers.append((request_id, "probe", writer.last_event_at()))
        except StorageUnavailable as error:
            answers.append((request_id, "unavailable", str(error)))
    return answers


def _store(writer: BatchWriter, batch: list[tuple[int, Delivery]], rejections: list[Rejection]) -> list[Any]:
    """Store the batch with the rejections gathered so far (the list is emptied: they go with it)."""
    outcomes = writer.store([delivery for _, delivery in batch], list(rejections))
    rejections.clear()
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
    held = HeldRejections()
    try:
        writer.list_batch(listing_batch_events)  # opens the database, and starts on what an earlier writer left
        while True:
            # A calm moment, or a retry after failed listing, with nothing else to do meanwhile.
            calm = max(CALM_SECONDS, writer.seconds_until_listing_retry)
            if writer.unlisted and not reader.input_waiting(calm):
                writer.list_batch(listing_batch_events)
                continue
            if held.items and not reader.input_waiting(held.seconds_until_due()):
                held.flush(writer)
                continue
            messages = reader.read_available()
            if messages is None:
                break
            answers = answer_messages(writer, messages, max_batch_events, held.items)
            if answers:
                sock.sendall(encode_frame(answers))
            held.noted()
            if writer.unlisted >= listing_batch_events:
                writer.list_batch(listing_batch_events)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the receiver is gone; what was committed stays committed
    finally:
        held.flush(writer)
        if writer.unlisted:
            writer.list_all(listing_batch_events)
        writer.close()


class HeldRejections:
    """Refused requests, kept in memory and written with the next stored batch or at most once a second."""

    def __init__(self) -> None:
        self.items: list[Rejection] = []
        self._since = 0.0

    def noted(self) -> None:
        if not self.items:
            self._since = 0.0
        elif not self._since:
            self._since = time.monotonic()

    def seconds_until_due(self) -> float:
        return max(0.0, self._since + REJECTION_FLUSH_SECONDS - time.monotonic())

    def flush(self, writer: BatchWriter) -> None:
        if self.items:
            writer.store([], self.items)
            self.items = []
        self._since = 0.0


def main(argv: list[str] | None = None) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m services.receiver.writer_main")
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


if __name__ == "__main__":
    sys.exit(main())
