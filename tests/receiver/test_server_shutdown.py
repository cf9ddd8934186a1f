"""Stopping the receiver (uvicorn, as the stack starts it) with requests in flight loses nothing it acknowledged."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
import requests

from tests.support.receiver import SECRET, STORED_KEYS_SQL, event_body, signed_headers, start_receiver

pytestmark = pytest.mark.processes

IN_FLIGHT = 24


def refuses_connections(port: int) -> bool:
    try:
        with closing(socket.create_connection(("127.0.0.1", port), timeout=1)):
            return False
    except OSError:
        return True


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_answers_the_requests_in_flight_and_keeps_all_it_acknowledged(tmp_path: Path, stop_signal: int):
    # At uvicorn's info level, so that its log says when the shutdown completed.
    receiver = start_receiver(tmp_path, SECRET, extra_env={"RECEIVER_DB_TIMEOUT_SECONDS": "20"}, log_level="info")
    process, url, log_path = receiver.process, receiver.url, receiver.log_path
    try:
        warm = event_body("evt-warm")
        assert requests.post(url + "/webhooks/360dialog", data=warm, headers=signed_headers(warm), timeout=10).ok
        db_path = tmp_path / "console.db"

        def deliver(number: int) -> tuple[str, int | None]:
            body = event_body(f"evt-{number}")
            try:
                response = requests.post(
                    url + "/webhooks/360dialog", data=body, headers=signed_headers(body), timeout=60
                )
            except requests.RequestException:
                return f"id:evt-{number}", None
            return f"id:evt-{number}", response.status_code

        # Holding the write lock keeps every delivery waiting for its commit, i.e. in flight.
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("begin immediate")
        try:
            with ThreadPoolExecutor(IN_FLIGHT) as pool:
                pending = [pool.submit(deliver, number) for number in range(IN_FLIGHT)]
                time.sleep(1.5)  # let the requests reach the receiver
                process.send_signal(stop_signal)
                port = int(url.rsplit(":", 1)[1])
                deadline = time.monotonic() + 20
                while not refuses_connections(port):
                    assert time.monotonic() < deadline, "the receiver kept accepting after the signal"
                    time.sleep(0.1)
                assert process.poll() is None  # still finishing what it has
                blocker.execute("rollback")
                results = [future.result(timeout=60) for future in pending]
        finally:
            if blocker.in_transaction:
                blocker.execute("rollback")
            blocker.close()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    acknowledged = {key for key, status in results if status is not None and 200 <= status < 300}
    with closing(sqlite3.connect(db_path)) as conn:
        stored = {key for (key,) in conn.execute(STORED_KEYS_SQL)}
        listed = {key for (key,) in conn.execute("select dedupe_key from events")}
    log = log_path.read_text()
    assert acknowledged, "no request was in flight when the signal came:\n" + log
    assert acknowledged <= stored
    assert stored == listed  # the writer lists everything it stored before it exits
    assert all(status in (200, None) for _, status in results), results
    assert "Application shutdown complete" in log
    # One request log line per answered delivery, each a JSON object.
    answered = [json.loads(line.split("receiver ", 1)[1]) for line in log.splitlines() if " receiver {" in line]
    assert sum(1 for record in answered if record["status"] == 200) == len(acknowledged) + 1
