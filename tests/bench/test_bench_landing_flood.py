"""One Streamlit websocket rerunning the landing page with 100 different 7 KB queries: no Partner API call, and
the database grows by less than 200 KB (the old landing asked 360dialog on every rerun and stored every one)."""

from __future__ import annotations

import pytest

from bench.bench_landing_flood import run_flood
from services.settings import RedirectLimits

pytestmark = pytest.mark.processes  # the console under streamlit, a Partner API on uvicorn


def test_a_flood_over_one_websocket_costs_no_partner_api_call_and_little_storage(tmp_path) -> None:
    result = run_flood(100, 7000, tmp_path)
    assert result.reruns == 100
    assert result.partner_api_calls == 0
    assert result.grown_bytes < 200 * 1024
    assert (result.stored, result.dropped) == (RedirectLimits.per_session, 100 - RedirectLimits.per_session)
