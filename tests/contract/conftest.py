"""A sandbox hub on real HTTP, with a recording receiver, for the contract tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.sandbox_hub import Hub, start_hub


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
