"""Key-health rounds over 10,000 active keys: console-side CPU per key, wall time for all of them, checks a second.

The Messaging API is a Starlette stub on uvicorn in a subprocess of its own, on loopback, answering
`GET /health_status` as the sandbox hub does (every hundredth key is refused with 401, so the stopped path runs
too); neither its CPU nor its memory counts. A fresh process seeds the keys into a fresh SQLite file, each really
sealed with the key vault (not timed), then runs full passes through services.keys.health.checks.run_round: every
key due, rounds of CONSOLE_KEY_HEALTH_BUDGET keys until each was asked once. The first pass is every key's first
check (enrolment, verdicts written, the stopped keys recorded); the second is the steady state (same verdicts).

Console-side cost is that process's CPU time (time.process_time: user and system, all its threads) over the keys
checked: decrypting each key, the HTTP call, reading the answer, the lease and the writes.

`python -m bench key_health [--keys 10000] [--budget 50]`
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path

from bench import harness
from bench.harness import HOST

KEYS = 10_000
BUDGET = 50
# Every this-many-th key is refused (401), as a key the client replaced in its hub.
STOPPED_EVERY = 100
HEALTHY = {
    "health_status": {
        "can_send_message": "AVAILABLE",
        "entities": [
            {"entity_type": "PHONE_NUMBER", "id": "106540352242922", "can_send_message": "AVAILABLE"},
            {"entity_type": "WABA", "id": "102290129340398", "can_send_message": "AVAILABLE"},
        ],
    }
}
REFUSED = {"meta": {"httpCode": 404, "developerMessage": "Invalid api_key or token expired", "success": False}}


def bench_key(index: int) -> str:
    """Key `index` as the stub knows it: the ones it refuses say so in their name."""
    refused = "stop" if index % STOPPED_EVERY == 0 else "live"
    return f"bench-{refused}-{index:07d}-0123456789abcdef"


# -- the stub Messaging API ------------------------------------------------------------------------------------


def stub_app():  # noqa: ANN201 - starlette is imported in the stub's process only
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def health_status(request: Request) -> Response:
        if "-stop-" in request.headers.get("d360-api-key", "-stop-"):
            return JSONResponse(REFUSED, status_code=401)
        return JSONResponse(HEALTHY)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/health_status", health_status), Route("/healthz", healthz)])


def running_stub() -> AbstractContextManager[int]:
    return harness.running_stub("bench.bench_key_health", "stub Messaging API")


# -- one measurement, in a process of its own --------------------------------------------------------------------


def _seed(db_path: Path, keys: int, port: int, vault) -> None:  # noqa: ANN001 - a KeyVault
    from services.store import open_console_db

    db = open_console_db(db_path)
    try:
        with db.atomic():
            db["channels"].insert_all(
                ({"id": f"kh{index:07d}CH", "status": "running", "phone_number": f"+49151{index:07d}"}
                 for index in range(keys)),
                batch_size=1000,
            )  # fmt: skip
            db["api_keys"].insert_all(
                (
                    {
                        "channel_id": f"kh{index:07d}CH",
                        "operator": "bench",
                        "created_at": "2026-12-01T10:00:00",
                        "outcome": "ok",
                        "status": "active",
                        "address": f"http://{HOST}:{port}",
                        "key_encrypted": vault.seal(bench_key(index)),
                        "key_last4": bench_key(index)[-4:],
                    }
                    for index in range(keys)
                ),
                batch_size=1000,
            )
    finally:
        db.close()


def _full_pass(db, vault, config, clock: list[float]) -> dict[str, float]:  # noqa: ANN001
    """Every key due now, rounds until each was asked once; the clock stands still, so none comes due twice."""
    from services.keys.health.checks import run_round

    with db.atomic():
        db.execute("update key_health set due_at = 0")
    totals = {"checked": 0, "stopped": 0, "could_not_check": 0, "rounds": 0}
    cpu, wall = time.process_time(), time.perf_counter()
    while True:
        report = run_round(db, vault, config, clock=lambda: clock[0])
        if not report.checked:
            break
        totals["checked"] += report.checked
        totals["stopped"] += report.stopped
        totals["could_not_check"] += report.could_not_check
        totals["rounds"] += 1
    return {**totals, "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}


def measure(keys: int, port: int, budget: int) -> dict[str, dict[str, float]]:
    from cryptography.fernet import Fernet

    from services.keys.health.checks import HealthConfig, enrol_keys
    from services.keys.vault import KeyVault
    from services.store import open_console_db

    vault = KeyVault(Fernet.generate_key().decode())
    config = HealthConfig(interval_seconds=3600, budget=budget, timeout=10, demo_mode=True)
    clock = [time.time()]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-key-health-") as folder:
        db_path = Path(folder) / "console.db"
        _seed(db_path, keys, port, vault)
        db = open_console_db(db_path)
        try:
            cpu = time.process_time()
            enrol_keys(db, config.interval_seconds, clock[0])
            results["enrol"] = {"cpu_s": time.process_time() - cpu}
            results["first"] = _full_pass(db, vault, config, clock)
            clock[0] += config.interval_seconds
            results["second"] = _full_pass(db, vault, config, clock)
        finally:
            db.close()
    results["process"] = {"max_rss_mb": harness.max_rss_mb()}
    return results


def _measure_in_subprocess(keys: int, port: int, budget: int) -> dict[str, dict[str, float]]:
    return harness.measured_in_subprocess("bench.bench_key_health", "--measure", str(keys), str(port), str(budget))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench key_health")
    parser.add_argument("--keys", type=int, default=KEYS)
    parser.add_argument("--budget", type=int, default=BUDGET, help="checks per round (CONSOLE_KEY_HEALTH_BUDGET)")
    args = parser.parse_args(argv or [])
    with running_stub() as port:
        results = _measure_in_subprocess(args.keys, port, args.budget)
    print(f"{args.keys:>7,} keys, enrolment: {results['enrol']['cpu_s'] * 1000:.0f} ms CPU", flush=True)
    for name, label in (("first", "first checks"), ("second", "steady state")):
        numbers = results[name]
        per_key = numbers["cpu_s"] / max(1, numbers["checked"]) * 1000
        print(
            f"{args.keys:>7,} keys, {label:<13}: {per_key:.2f} ms CPU per key ({numbers['cpu_s']:.1f} s), "
            f"wall {numbers['wall_s']:.1f} s, {numbers['checked'] / numbers['wall_s']:.0f} checks/s, "
            f"{numbers['rounds']:.0f} rounds of {args.budget}; {numbers['stopped']:.0f} stopped, "
            f"{numbers['could_not_check']:.0f} could not be checked",
            flush=True,
        )
    print(f"{args.keys:>7,} keys, process max RSS {results['process']['max_rss_mb']:.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--stub":
        harness.serve_stub(stub_app(), int(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    else:
        sys.exit(main(sys.argv[1:]))
