"""A Partner API on real HTTP that lists a fixed set of channels and counts every request: a landing that
asks 360dialog anything shows up in `calls`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class CountingPartnerApi:
    # channel id -> client id, as 360dialog lists them; every channel is listed as shared.
    channels: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _count(self, request: Request) -> None:
        with self.lock:
            self.calls.append(request.url.path)

    def _listed(self) -> list[dict[str, Any]]:
        return [
            {"id": channel_id, "client_id": client_id, "status": "running", "setup_info": {}}
            for channel_id, client_id in self.channels.items()
        ]

    def app(self) -> Starlette:
        async def channels(request: Request) -> JSONResponse:
            self._count(request)
            listed = self._listed()
            return JSONResponse({"count": len(listed), "total": len(listed), "partner_channels": listed})

        async def shared(request: Request) -> JSONResponse:
            self._count(request)
            numbers = [{"channel_id": channel["id"]} for channel in self._listed()]
            return JSONResponse({"count": len(numbers), "shared_client_numbers": numbers})

        base = "/api/v2/partners/{partner_id}"
        return Starlette(
            routes=[
                Route(f"{base}/channels", channels),
                Route(f"{base}/clients/{{client_id}}/shared_client_numbers", shared),
            ]
        )
