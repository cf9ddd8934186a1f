"""Redirects as the console shows them: what comes next for a channel a redirect names."""

from __future__ import annotations

import pytest

from services.read_models.redirects import next_step


@pytest.mark.parametrize(
    ("channel", "key", "expected"),
    [
        (None, "none", "waiting for running (now: not reported yet)"),
        ({"status": "pending", "revoked": 0}, "none", "waiting for running (now: pending)"),
        ({"status": "ready", "revoked": 0}, "none", "waiting for running (now: ready)"),
        ({"status": "running", "revoked": 0}, "none", "key can be generated"),
        ({"status": "running", "revoked": 0}, "revoked", "key can be generated"),
        ({"status": "running", "revoked": 0}, "active", "key exists"),
        ({"status": "running", "revoked": 0}, "unknown", "a key request's result is not known yet"),
        ({"status": "running", "revoked": 1}, "none", "permission withdrawn; no key can be generated"),
        ({"status": "running", "revoked": 1}, "unusable", "permission withdrawn; its stored key is marked unusable"),
    ],
)
def test_next_step_per_channel(channel: dict | None, key: str, expected: str) -> None:
    assert next_step(channel, key).startswith(expected)
