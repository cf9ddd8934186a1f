"""How a long-running process takes the signals that stop it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import nullcontext

import pytest

from services.process_state import stop_signals_to

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@pytest.fixture(autouse=True)
def _handlers_kept() -> Iterator[None]:
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


def test_both_stop_signals_reach_the_handler_inside_the_block() -> None:
    received = []
    with stop_signals_to(lambda signum, frame: received.append(signum)):
        for signum in STOP_SIGNALS:
            os.kill(os.getpid(), signum)
    assert received == list(STOP_SIGNALS)


@pytest.mark.parametrize("fails", [False, True])
def test_after_the_block_each_stop_signal_does_its_default_again(fails: bool) -> None:
    with pytest.raises(RuntimeError) if fails else nullcontext(), stop_signals_to(lambda signum, frame: None):
        if fails:
            raise RuntimeError("the loop failed")
    assert [signal.getsignal(signum) for signum in STOP_SIGNALS] == [signal.SIG_DFL, signal.SIG_DFL]
