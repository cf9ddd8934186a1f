"""A Messaging API on real loopback HTTP whose answer to `GET /health_status` each test sets per key, counting
every call per key (and how many were under way at once): what key health asks, without the sandbox hub."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.servers import free_port, serving

AVAILABLE = {
    "health_status": {
        "can_send_message": "AVAILABLE",
        "entities": [{"entity_type": "PHONE_NUMBER", "id": "106540352242922", "can_send_message": "AVAILABLE"}],
    }
}


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=lambda: AVAILABLE)
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before answering (a slow check, or a timeout when longer than the client waits).
    delay: float = 0.0


@dataclass
class MessagingStub:
    url: str = ""
    answers: dict[str, Answer] = field(default_factory=dict)
    calls: Counter = field(default_factory=Counter)
    under_way: Counter = field(default_factory=Counter)
    most_at_once: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, api_key: str, answer: Answer) -> None:
        with self.lock:
            self.answers[api_key] = answer

    def app(self) -> Starlette:
        def respond(api_key: str) -> Answer:
            with self.lock:
                self.calls[api_key] += 1
                self.under_way[api_key] += 1
                self.most_at_once[api_key] = max(self.most_at_once[api_key], self.under_way[api_key])
                answer = self.answers.get(api_key, Answer())
            time.sleep(answer.delay)
            with self.lock:
                self.under_way[api_key] -= 1
            return answer

        async def health_status(request: Request) -> Response:
            answer = await run_in_threadpool(respond, request.headers.get("d360-api-key", ""))
            if answer.body is None:
                return Response(status_code=answer.status, headers=answer.headers)
            return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

        return Starlette(routes=[Route("/health_status", health_status)])


@contextmanager
def messaging_stub() -> Iterator[MessagingStub]:
    stub = MessagingStub()
    with serving(stub.app(), free_port()) as url:
        stub.url = url
        yield stub
