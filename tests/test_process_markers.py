"""The `processes` marker means what it says: a test that starts an OS process or a server without it fails, so
the fast loop (`-m "not browser and not processes"`) never starts one."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.support.servers import UnmarkedProcess


def test_an_unmarked_test_may_not_start_a_process() -> None:
    with pytest.raises(UnmarkedProcess, match="starts a process: mark it `processes`"):
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)


def test_an_unmarked_test_may_not_listen_on_a_socket() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(UnmarkedProcess, match="starts a server: mark it `processes`"):
            sock.listen()


@pytest.mark.processes
def test_a_marked_test_may_start_both() -> None:
    assert subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60).returncode == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
