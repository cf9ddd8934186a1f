"""How a long-running process starts: its settings; and how it takes the signals that stop it."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

from services.process_state import process_settings, stop_signals_to

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


def test_a_process_reads_its_own_role_s_settings(tmp_path: Path) -> None:
    env = {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml")}
    settings = process_settings("key_health", "key health", {**env, "CONSOLE_LOG_LEVEL": "warning"})
    assert settings is not None
    assert (settings.data_dir, settings.log_level_number) == (tmp_path, logging.WARNING)


def test_a_wrong_setting_is_said_after_the_program_s_name(tmp_path: Path, capsys) -> None:
    env = {"CONSOLE_DATA_DIR": str(tmp_path), "CONSOLE_SECRETS_FILE": str(tmp_path / "none.toml")}
    assert process_settings("scheduler", "the scheduler", {**env, "CONSOLE_SYNC_MINUTES": "-5"}) is None
    assert capsys.readouterr().err == "the scheduler: CONSOLE_SYNC_MINUTES must be at least 0\n"
