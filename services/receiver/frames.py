"""Frames between the receiver and its writer process: a 4-byte big-endian length and a pickle.

Pickle is safe here only because the socket pair joins two processes of ours and nothing else can write to
it; nothing from the network is ever unpickled, bodies travel as bytes.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

LENGTH_BYTES = 4


@dataclass(frozen=True)
class StoredDelivery:
    """A delivery the writer committed: how many of its events were new, and what they were."""

    stored: int
    duplicates: int
    event_type: str
    events: int


def encode_frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(LENGTH_BYTES, "big") + payload


def decode_frame(payload: bytes | memoryview) -> Any:
    return pickle.loads(payload)  # noqa: S301 - only ever a frame of ours, from the other end of our socket pair
