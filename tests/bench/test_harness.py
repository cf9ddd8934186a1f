"""What the benchmarks share: a stub started in a process of its own, and a measurement read from a fresh process."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.harness import measured_in_subprocess, start_stub

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
