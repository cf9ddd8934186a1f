"""A sandbox hub on real HTTP, with a recording receiver, for the contract tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.demo.hub_client import SandboxClient
from services.partner_api import PartnerApi
from services.sandbox.server import create_app
from services.settings import Settings
from tests.contract.server import RecordingReceiver, sandbox_settings, serving
from tests.stack_process import free_port


@dataclass
class Hub:
    settings: Settings
    url: str
    receiver: RecordingReceiver
    sandbox: SandboxClient

    def api(self, **credentials: str) -> PartnerApi:
        credentials = credentials or {"api_key": self.settings.partner_api_key}
        return PartnerApi(self.settings.api_base_url, self.settings.partner_id, timeout=10, **credentials)


def start_hub(stack: ExitStack, data_dir: Path, *, fail_first: int = 0, **env: str) -> Hub:
    receiver = RecordingReceiver(fail_first=fail_first)
    sandbox_port, receiver_port = free_port(), free_port()
    settings = sandbox_settings(data_dir, sandbox_port=sandbox_port, receiver_port=receiver_port, **env)
    stack.enter_context(serving(receiver.app(), receiver_port))
    url = stack.enter_context(serving(create_app(settings), sandbox_port))
    sandbox = SandboxClient(url, settings.partner_api_key)
    stack.callback(sandbox.close)
    return Hub(settings, url, receiver, sandbox)


@pytest.fixture
def make_hub(tmp_path: Path) -> Iterator[Callable[..., Hub]]:
    with ExitStack() as stack:

        def make(name: str = "hub", **kwargs: object) -> Hub:
            return start_hub(stack, tmp_path / name, **kwargs)

        yield make


@pytest.fixture(scope="module")
def seeded_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, dict]]:
    """One hub with the demo scenario, shared by the read-only tests of a module."""
    with ExitStack() as stack:
        hub = start_hub(stack, tmp_path_factory.mktemp("seeded"), SANDBOX_TOKEN_LIFETIME_SECONDS="1")
        yield hub, hub.sandbox.seed(seed=7)
