"""The pages benchmark: which pages a command line measures, and the Channels page's sizes taking turns, every
round's runs pooled."""

from __future__ import annotations

from typing import Any

import pytest

from bench import bench_pages


def test_the_channels_option_measures_the_channels_page_alone() -> None:
    assert bench_pages._cases(bench_pages._arguments(["--channels", "10", "20"])) == (("channels", 10, 20),)
    assert bench_pages._cases(bench_pages._arguments([])) == bench_pages.CASES
    assert [case[0] for case in bench_pages._cases(bench_pages._arguments(["--events", "1", "2"]))] == ["events"]


def test_the_sizes_take_turns_and_every_round_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes_of: dict[str, int] = {}
    measured: list[int] = []
    # The small size's fastest run is in its first round, the large size's in its second.
    timings = {
        10: iter([[0.010, 0.012], [0.011], [0.013], [0.014], [0.015]]),
        20: iter([[0.03], [0.009]] + [[0.02]] * 3),
    }

    def in_subprocess(*args: str) -> dict[str, Any]:
        if args[0] == "--seed":
            sizes_of[args[3]] = int(args[2])
            return {"seed_s": 1.0}
        size = sizes_of[args[3]]
        measured.append(size)
        return {"timings_s": next(timings[size]), "traced_peak_mb": 0.3, "max_rss_mb": float(size)}

    monkeypatch.setattr(bench_pages, "_subprocess", in_subprocess)
    results = bench_pages._measure("channels", (10, 20), ["default"])
    assert bench_pages.ROUNDS["channels"] > 1
    assert measured == [10, 20] * bench_pages.ROUNDS["channels"]
    small, large = results[10]["default"], results[20]["default"]
    assert (small["min_s"], small["runs"], small["median_s"]) == (0.010, 6, pytest.approx(0.0125))
    assert (large["min_s"], large["runs"], large["median_s"], large["max_rss_mb"]) == (0.009, 5, 0.02, 20.0)
