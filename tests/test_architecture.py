"""The import contracts in pyproject.toml hold for the tree, and break when a boundary is crossed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.processes  # each test runs lint-imports in a process of its own (`make lint` runs it too)

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "the domain packages form layers"


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    for name in ("services", "dashboard", "pages"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "0 broken" in result.stdout
    assert f"{LAYERS}: each uses only the ones below it KEPT" in result.stdout


def test_the_scheduler_may_read_a_key_status_but_nothing_else_of_the_keys(tree_copy: Path) -> None:
    """Its contract names the vault and every keys module that reaches it, not the whole package: the alert
    rules read a key's status with the Channels page's own SQL (services.keys.key_status)."""
    loop = tree_copy / "services/scheduler/loop.py"
    loop.write_text(loop.read_text() + "\nfrom services.keys import key_status  # allowed on purpose\n")
    result = _lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("services/store.py", "import streamlit", "services never import Streamlit or the dashboard"),
        ("pages/events.py", "import requests", "pages do no SQL, HTTP or crypto of their own"),
        ("pages/connect.py", "import sqlite3", "pages do no SQL, HTTP or crypto of their own"),
        (
            "services/sandbox/hub.py",
            "from services.keys import generation",
            "the sandbox hub never imports the console",
        ),
        ("services/demo/controls.py", "from services.sandbox import state", "the console reaches the sandbox hub only"),
        ("services/read_models/today.py", "from services.sandbox import state", "the console reaches the sandbox hub"),
        ("services/sandbox/hub.py", "from services.read_models import today", "the sandbox hub never imports the"),
        ("services/receiver/stats.py", "import dashboard.context", "the receiver imports nothing from the operators"),
        ("services/settings.py", "from services.channels import projection", "the shared core depends on no domain"),
        ("services/receiver/stats.py", "from services.scheduler import loop", "the receiver imports nothing from the"),
        ("services/scheduler/loop.py", "import streamlit", "the scheduler runs without Streamlit"),
        ("services/scheduler/status.py", "import pages.channels", "the scheduler runs without Streamlit"),
        ("services/scheduler/loop.py", "from services.keys import vault", "the scheduler runs without Streamlit"),
        ("services/settings.py", "from services.scheduler import status", "the shared core depends on no domain"),
        ("services/receiver/stats.py", "from services.alerts import rules", "the receiver never sends alerts"),
        ("services/receiver/server.py", "import apprise", "the receiver never sends alerts"),
        (
            "services/sandbox/inbox.py",
            "from services.alerts import wording",
            "the sandbox hub never imports the console",
        ),
        ("services/accounts/roles.py", "import streamlit", "team access is a domain of its own"),
        ("services/accounts/sessions.py", "import dashboard.context", "team access is a domain of its own"),
        ("services/accounts/admission.py", "from services.receiver import stats", "team access is a domain of its own"),
        ("services/receiver/stats.py", "from services.accounts import roles", "the receiver imports nothing from the"),
        ("services/sandbox/hub.py", "from services.accounts import roles", "the sandbox hub never imports the console"),
        ("services/settings.py", "from services.accounts import roles", "the shared core depends on no domain"),
        ("services/scheduler/loop.py", "from services.keys import generation", "the scheduler runs without Streamlit"),
        ("services/alerts/rules.py", "from services.keys.health import checks", "the scheduler runs without Streamlit"),
        ("services/events/store.py", "from services.channels import projection", LAYERS),
        ("services/events/incoming.py", "from services.channels import event_listing", LAYERS),
        ("services/channels/labels.py", "from services.read_models import work_queue", LAYERS),
        ("services/keys/bulk.py", "from services.read_models import channel_list", LAYERS),
        ("services/onboarding/links.py", "from services.alerts import rules", LAYERS),
        ("services/channels/sync.py", "from services.keys import key_status", LAYERS),
        ("services/accounts/roles.py", "from services.events import webhook", LAYERS),
        ("services/read_models/today.py", "from services.scheduler import status", LAYERS),
        ("services/demo/controls.py", "from services.receiver import stats", LAYERS),
    ],
)
def test_crossing_a_boundary_breaks_its_contract(tree_copy: Path, module: str, line: str, contract: str) -> None:
    path = tree_copy / module
    path.write_text(path.read_text() + f"\n{line}  # crossing on purpose\n")
    result = _lint_imports(tree_copy)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken
