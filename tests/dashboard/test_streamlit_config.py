"""The console's Streamlit settings (.streamlit/config.toml), as Streamlit reads them from the project root."""

from __future__ import annotations

from streamlit import config


def test_no_full_garbage_collection_holds_up_each_script_run() -> None:
    # Streamlit's default collects after every run: 45 to 70 ms of a two-core machine's time per click and per
    # live refresh, measured on the dashboard's process at a large partner's size (docs/benchmarks.md).
    assert config.get_option("runner.postScriptGC") is False


def test_a_rerun_interrupts_the_run_it_replaces() -> None:
    assert config.get_option("runner.fastReruns") is True
