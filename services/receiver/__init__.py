"""The webhook receiver: the one process 360dialog reaches. `uvicorn services.receiver:app` runs it.

`server` is the ASGI app (checks each request, answers only after the write is committed), `writer_process`
runs storage in a process of its own, `batch_writer` is the group commit inside it, `stats` the counters
and refusal log the Receiver health page reads, `request_log` the one-line-per-request log. The design is
in docs/receiver.md. It imports nothing from the dashboard.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # `uvicorn services.receiver:app`: the app is built on first access, so importing the package (the
    # writer process does) reads no settings and starts no server.
    if name == "app":
        from services.receiver import server

        return server.app
    raise AttributeError(name)
