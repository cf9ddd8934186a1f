"""A Partner API sync of 10,000 and 100,000 channels: console-side CPU per channel, wall time and peak memory.

The Partner API is a Starlette stub on uvicorn in a subprocess of its own, on loopback: it makes each page of
channels when asked, so neither its memory nor its CPU counts. Each size is synced by a fresh process of its own
into a fresh SQLite file, through the real PartnerApi client and services.channels.sync.sync_channels, twice:
first every channel is new, then a fraction of them has changed (quality, and some have left running).

Console-side cost is the syncing process's CPU time (time.process_time) over the channels read. Peak memory is
tracemalloc's peak, measured in a second pair of syncs into another fresh file (tracing slows Python down, so
the timed syncs run without it), and the process's max RSS.

`python -m bench sync [--sizes 10000 100000] [--changed 0.05]`
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from contextlib import AbstractContextManager
from pathlib import Path

from bench import harness
from bench.harness import HOST
from tests.support.people import person

PARTNER = "benchPA"
SIZES = (10_000, 100_000)
CHANGED = 0.05
TARGET_US = 100.0
STATUSES = ("running", "running", "running", "ready", "submitted")


# -- the stub Partner API: pages made on the fly -----------------------------------------------------------


def stub_channel(index: int, round_: int, changed_every: int) -> dict:
    """Channel `index` as the Partner API lists it in round 1, or in round 2, where every `changed_every`-th
    channel has a lower quality and every tenth of those has left running."""
    changed = round_ == 2 and index % changed_every == 0
    status = STATUSES[index % len(STATUSES)]
    if changed and (index // changed_every) % 10 == 0:
        status = "ready" if status == "running" else "running"
    client_id = f"cl{index // 10:06d}CL"
    return {
        "id": f"ch{index:07d}CH",
        "client_id": client_id,
        "status": status,
        "account_mode": "live",
        "created_at": "2026-01-01T00:00:00Z",
        "modified_at": "2026-01-02T00:00:00Z",
        "terminated_at": None,
        "current_limit": "TIER_1K",
        "current_quality_rating": "YELLOW" if changed else "GREEN",
        "setup_info": {"phone_number": f"+49151{index:07d}", "phone_name": f"Shop {index}"},
        "client": {"id": client_id, "name": f"Client {index // 10}", "partner_payload": None},
        "waba_account": {"id": f"waba{index}", "external_id": str(10**9 + index), "fb_account_status": "verified"},
    }


def stub_app():  # noqa: ANN201 - starlette is imported in the stub's process only
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def channels(request: Request) -> Response:
        total, round_ = int(request.path_params["total"]), int(request.path_params["round"])
        changed_every = int(request.path_params["every"])
        offset, limit = int(request.query_params.get("offset", 0)), int(request.query_params.get("limit", 100))
        page = [stub_channel(index, round_, changed_every) for index in range(offset, min(offset + limit, total))]
        body = {
            "count": len(page),
            "total": total,
            "limit": limit,
            "offset": offset,
            "filters": {},
            "sort": ["created_at"],
        }
        return JSONResponse({**body, "partner_channels": page})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/{total:int}/{round:int}/{every:int}/api/v2/partners/{partner}/channels", channels),
            Route("/healthz", healthz),
        ]
    )


def running_stub() -> AbstractContextManager[int]:
    return harness.running_stub("bench.bench_sync", "stub Partner API")


# -- one size, in a process of its own -------------------------------------------------------------------


def _sync(db_path: Path, base_url: str, *, traced: bool) -> dict[str, float]:
    from services.channels.sync import sync_channels
    from services.partner_api import PartnerApi
    from services.store import open_console_db

    db = open_console_db(db_path)
    api = PartnerApi(base_url, PARTNER, api_key="bench-partner-key-0123456789", timeout=60)
    try:
        if traced:
            tracemalloc.start()
        cpu, wall = time.process_time(), time.perf_counter()
        report = sync_channels(db, api, actor=person("bench"))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        if traced:
            tracemalloc.stop()
    finally:
        api.close()
        db.close()
    return {
        "seen": report.seen,
        "new": report.new_count,
        "changed": report.changed_count,
        "left_running": report.left_running_count,
        "cpu_s": cpu,
        "wall_s": wall,
        "traced_peak_mb": peak / 1e6,
    }


def measure(size: int, port: int, changed: float) -> dict[str, dict[str, float]]:
    every = max(1, round(1 / changed)) if changed > 0 else size + 1
    base = f"http://{HOST}:{port}/{size}/{{round}}/{every}/api/v2"
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as folder:
        for name, round_ in (("first", 1), ("second", 2)):
            results[name] = _sync(Path(folder) / "timed.db", base.format(round=round_), traced=False)
        for name, round_ in (("first", 1), ("second", 2)):
            traced = _sync(Path(folder) / "traced.db", base.format(round=round_), traced=True)
            results[name]["traced_peak_mb"] = traced["traced_peak_mb"]
    results["process"] = {"max_rss_mb": harness.max_rss_mb()}
    return results


def _measure_in_subprocess(size: int, port: int, changed: float) -> dict[str, dict[str, float]]:
    return harness.measured_in_subprocess("bench.bench_sync", "--measure", str(size), str(port), str(changed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench sync")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--changed", type=float, default=CHANGED, help="fraction changed for the second sync")
    args = parser.parse_args(argv or [])
    worst = 0.0
    with running_stub() as port:
        for size in args.sizes:
            results = _measure_in_subprocess(size, port, args.changed)
            for name, label in (("first", "first sync, all new"), ("second", f"second, {args.changed:.0%} changed")):
                numbers = results[name]
                per_channel = numbers["cpu_s"] / numbers["seen"] * 1e6
                worst = max(worst, per_channel)
                print(
                    f"{size:>9,} channels, {label:<22}: {per_channel:6.1f} µs CPU per channel "
                    f"({numbers['cpu_s']:.2f} s), wall {numbers['wall_s']:.2f} s, "
                    f"peak traced {numbers['traced_peak_mb']:.1f} MB; "
                    f"{numbers['new']:,} new, {numbers['changed']:,} changed, {numbers['left_running']:,} left running",
                    flush=True,
                )
            print(f"{size:>9,} channels, process max RSS {results['process']['max_rss_mb']:.0f} MB", flush=True)
    verdict = "ok" if worst <= TARGET_US else "OVER TARGET"
    print(f"worst console-side CPU per channel: {worst:.1f} µs (target <= {TARGET_US:g} µs) {verdict}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--stub":
        harness.serve_stub(stub_app(), int(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))))
    else:
        sys.exit(main(sys.argv[1:]))
