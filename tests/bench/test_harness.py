"""What the benchmarks share: a stub started in a process of its own, and a measurement read from a fresh process."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from bench.harness import HOST, max_rss_mb, measured_in_subprocess, running_stub, start_stub

pytestmark = pytest.mark.processes  # each test starts a Python process

PRINTER = """
import json, sys
if sys.argv[1:2] == ["--stub"]:
    sys.exit(3)
print("seeding 100 rows")
print(json.dumps({"first": {"cpu_s": 0.5}, "args": sys.argv[1:]}))
"""


@pytest.fixture
def printer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "bench_printer.py").write_text(PRINTER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "bench_printer"


def test_a_measurement_is_the_json_its_process_printed_last(printer: str) -> None:
    assert measured_in_subprocess(printer, "--measure", "10") == {"first": {"cpu_s": 0.5}, "args": ["--measure", "10"]}


def test_a_stub_that_stops_at_start_is_named(printer: str) -> None:
    with pytest.raises(SystemExit, match=r"^the stub Printer API stopped at start$"):
        start_stub(printer, "stub Printer API")


def test_a_running_stub_answers_in_the_block_and_is_gone_after_it() -> None:
    with running_stub("bench.bench_sync", "stub Partner API") as port:
        assert requests.get(f"http://{HOST}:{port}/healthz", timeout=5).json() == {"ok": True}
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{HOST}:{port}/healthz", timeout=5)


def test_the_peak_memory_is_counted_in_megabytes() -> None:
    assert 10 < max_rss_mb() < 100_000
