"""The writer as the receiver sees it: one small interface to a process of its own.

`WriterProcess` starts the writer (services.receiver.writer_main), hands each signed delivery's raw body over
a socket pair and awaits the answer; it restarts a writer that dies and answers 503 for what waited on it.
One process per side means one interpreter lock per side: under load the HTTP side's lock was otherwise
handed back and forth with the writer's many times per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from services.events.webhook import MalformedWebhook
from services.receiver.frames import LENGTH_BYTES, StoredDelivery, decode_frame, encode_frame
from services.receiver.group_commit import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    MAX_BATCH_EVENTS,
    DeliveryNotStored,
    StorageUnavailable,
)
from services.receiver.stats import Rejection
from services.receiver.writer_main import LISTING_BATCH_EVENTS
from services.settings import PROJECT_ROOT

log = logging.getLogger("receiver.writer")
# Deliveries waiting for an answer; past this the receiver answers 503 instead of holding more bodies in memory.
MAX_WAITING_DELIVERIES = 5000
# A child that dies sooner than this after starting is restarted after a growing pause, not at once.
QUICK_DEATH_SECONDS = 2.0
MAX_RESTART_PAUSE_SECONDS = 5.0
STOP_GRACE_SECONDS = 30.0


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
            "services.receiver.writer_main",
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
