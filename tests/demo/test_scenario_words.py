"""Loading the scenario answers in words: stages and cases as a sentence, never a Python dict."""

from __future__ import annotations

from services.demo.scenario import ScenarioResult, scenario_in_words


def test_the_scenario_is_told_in_words() -> None:
    result = ScenarioResult(
        clients=40,
        channels=150,
        events_queued=320,
        redirects_stored=40,
        channels_synced=150,
        keys_generated=30,
        by_status={"pending": 30, "running": 80, "ready": 40},
        cases={"stuck": 5, "revoked": 3, "cancelled": 0},
    )
    words = scenario_in_words(result)
    assert words == (
        "40 clients and 150 channels (80 running, 40 ready, 30 pending); 30 keys made; "
        "320 webhooks on their way to the receiver. Among them: 5 stuck, 3 revoked."
    )
    assert not set("{}'") & set(words)
