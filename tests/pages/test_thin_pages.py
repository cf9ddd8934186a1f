"""Page scripts stay thin: each reads as what the person sees, in a screenful or two, and reaches the database,
the settings and the hubs only through dashboard/context.py."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PAGES = ROOT / "pages"
MAX_LINES = 150
# What a longer page's docstring says, followed by why.
REASON = "Longer than a screenful or two because"
# Making a connection or a client is dashboard/context.py's job; a page that does it holds its own copy of how.
OWN_CONNECTIONS = {"open_console_db", "Database", "from_settings", "cache_resource"}


def _pages(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.py"))


def too_long(folder: Path) -> list[str]:
    """Each page script over MAX_LINES lines whose docstring does not say why."""
    found = []
    for page in _pages(folder):
        text = page.read_text()
        lines = len(text.splitlines())
        if lines > MAX_LINES and REASON not in (ast.get_docstring(ast.parse(text)) or ""):
            found.append(f"{page.name}: {lines} lines, and its docstring does not say '{REASON} ...'")
    return found


def _names_used(tree: ast.AST) -> set[str]:
    return {node.attr if isinstance(node, ast.Attribute) else node.id
            for node in ast.walk(tree) if isinstance(node, ast.Attribute | ast.Name)}  # fmt: skip


def own_connections(folder: Path) -> list[str]:
    """Each page script that opens a database or builds a client itself instead of asking dashboard.context."""
    found = []
    for page in _pages(folder):
        used = _names_used(ast.parse(page.read_text())) & OWN_CONNECTIONS
        if used:
            found.append(f"{page.name} uses {', '.join(sorted(used))}: ask dashboard.context instead")
    return found


def test_every_page_fits_a_screenful_or_two() -> None:
    assert _pages(PAGES)
    assert too_long(PAGES) == []


def test_a_long_page_without_a_reason_is_named(tmp_path: Path) -> None:
    body = "\n".join(f'st.text("line {n}")' for n in range(MAX_LINES))
    (tmp_path / "short.py").write_text('"""Short."""\n' + "\n".join(body.splitlines()[:20]) + "\n")
    (tmp_path / "long.py").write_text(f'"""Long."""\n{body}\n')
    (tmp_path / "long_with_reason.py").write_text(f'"""Long.\n\n{REASON} it is a wizard."""\n{body}\n')
    assert too_long(tmp_path) == [f"long.py: {MAX_LINES + 1} lines, and its docstring does not say '{REASON} ...'"]


def test_no_page_opens_a_database_or_builds_a_client() -> None:
    assert own_connections(PAGES) == []


@pytest.mark.parametrize(
    "line",
    [
        "db = open_console_db(settings.console_db_path)",
        "sandbox = SandboxClient.from_settings(require_settings())",
        "@st.cache_resource\ndef client():\n    return PartnerApi(url, key)",
        "db = sqlite_utils.Database(path)",
    ],
)
def test_a_page_that_makes_its_own_connection_is_named(tmp_path: Path, line: str) -> None:
    shutil.copy(PAGES / "channels.py", tmp_path / "channels.py")
    (tmp_path / "demo.py").write_text((PAGES / "demo.py").read_text() + f"\n{line}\n")
    [found] = own_connections(tmp_path)
    assert found.startswith("demo.py uses ")


@pytest.mark.processes  # runs lint-imports in a process of its own
@pytest.mark.parametrize(
    "line",
    [
        "from services.store import open_console_db",
        "from services.partner_api import PartnerApi",
        "from services.demo.hub_client import SandboxClient",
        "from services.keys.vault import KeyVault",
        "from services.settings import load_settings",
    ],
)
def test_a_page_importing_what_the_context_makes_breaks_the_contract(tmp_path: Path, line: str) -> None:
    for name in ("services", "dashboard", "pages"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    page = tmp_path / "pages" / "channels.py"
    page.write_text(page.read_text() + f"\n{line}  # crossing on purpose\n")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "pages reach the database" in result.stdout.split("Broken contracts", 1)[-1]
