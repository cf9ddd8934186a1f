"""The documents name what exists, and what exists is named in them.

- every page declared in dashboard/app.py has a row in docs/architecture.md, "Screens", and every page script a
  row names is declared;
- every route the console, the receiver and the sandbox hub serve has a row in "Endpoints", and every route a
  row names is served, with the methods it names;
- every setting services/settings.py reads is in docs/operations.md, "Settings by group", and in
  .streamlit/secrets.toml.example, and every setting a document names is one the code reads;
- every path a document names (in backticks, or as a link) exists in the tree.

Each check is a small function over text or names, so that the planted cases below can show it fail.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from streamlit.web.server.starlette.starlette_auth_routes import create_auth_routes
from streamlit.web.server.starlette.starlette_routes import create_health_routes

from dashboard import edge
from services.receiver.server import create_app as create_receiver
from services.sandbox.server import create_app as create_sandbox
from services.settings import load_settings
from tests.support import ROOT

ARCHITECTURE = ROOT / "docs" / "architecture.md"
OPERATIONS = ROOT / "docs" / "operations.md"
SETTINGS_EXAMPLE = ROOT / ".streamlit" / "secrets.toml.example"
APP_SCRIPT = ROOT / "dashboard" / "app.py"
SETTINGS_MODULE = ROOT / "services" / "settings.py"
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

SETTING_NAME = re.compile(r"\b(?:CONSOLE|D360|RECEIVER|SANDBOX)_[A-Z0-9_]+\b")
# A path in the tree as the documents write it: from one of these folders, not part of a URL path.
TREE_PATH = re.compile(r"(?<![\w/.{}-])((?:services|dashboard|pages|tests|bench|docs|\.ci)/[\w./-]*)")
LINK = re.compile(r"\]\(([^)\s`]+)\)")
FENCED = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# An entry of a tree drawn in a fenced block: `services/` or `  store.py`, then two spaces and what it is.
TREE_ENTRY = re.compile(r"^( *)((?:[\w.-]+/)+|[\w-]+\.(?:py|md|toml|txt))(?:  |$)")
ENDPOINT = re.compile(r"^((?:[A-Z]+ )*)(/\S*)$")
# Which app serves a route, as the first column of "Endpoints" names it.
CONSOLE, RECEIVER, SANDBOX = "console", "receiver", "sandbox hub"

Routes = Mapping[str, Mapping[str, frozenset[str]]]


# --- reading the documents ---------------------------------------------------------------------------------------


def section(markdown: str, heading: str) -> str:
    """The text under a heading (any level), up to the next heading of the same level or above."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", markdown, re.MULTILINE)
    if match is None:
        raise LookupError(f"no heading {heading!r}")
    level = len(match.group(1))
    rest = markdown[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def table_rows(text: str) -> list[list[str]]:
    """The cells of each row of the Markdown tables in `text`, without the header rows and separators."""
    rows: list[list[str]] = []
    lines = [line.strip() for line in text.splitlines()]
    for index, line in enumerate(lines):
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        is_header = index + 1 < len(lines) and lines[index + 1].startswith("| ---")
        if not is_header:
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def backticked(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


# --- screens ---------------------------------------------------------------------------------------------------------


def _path_of(node: ast.expr, folders: Mapping[str, str]) -> str | None:
    """`PAGES / "home.py"` or `ROOT / "pages" / "home.py"` as "pages/home.py", relative to the project."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return folders.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _path_of(node.left, folders), _path_of(node.right, folders)
        if left is not None and right is not None:
            return f"{left}/{right}".strip("/")
    return None


def _folders(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound to a path under the project (`PAGES = ROOT / "pages"`); ROOT is the project."""
    folders = {"ROOT": ""}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            path = _path_of(node.value, folders)
            if path is not None:
                folders[node.targets[0].id] = path
    return folders


def _page_source(argument: ast.expr, folders: Mapping[str, str]) -> str:
    """A script page by its path, a function page (`sign_in`) by its name; anything else as written, so that
    a page declared some new way is reported rather than skipped."""
    path = _path_of(argument, folders)
    if path is not None:
        return path
    return argument.id if isinstance(argument, ast.Name) else ast.unparse(argument)


def declared_pages(app_source: str) -> list[str]:
    """Every `st.Page(...)` in the app script, whoever sees it: "pages/<script>.py", or a function's name."""
    tree = ast.parse(app_source)
    folders = _folders(tree)
    pages: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Page":
            argument = node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "page")
            source = _page_source(argument, folders)
            if source not in pages:
                pages.append(source)
    return pages


def _page_cells(screens: str) -> list[str]:
    """The "page script" cell (the second) of each row of "Screens"."""
    return [row[1] for row in table_rows(screens) if len(row) > 1]


def pages_without_row(pages: Iterable[str], screens: str) -> list[str]:
    named = {token for cell in _page_cells(screens) for token in backticked(cell)}
    return [
        f'{page} is declared in dashboard/app.py but no row of docs/architecture.md, "Screens", names it'
        for page in pages
        if page not in named
    ]


def rows_without_page(pages: Iterable[str], screens: str) -> list[str]:
    declared = set(pages)
    return [
        f'docs/architecture.md, "Screens", names {token}, which dashboard/app.py does not declare'
        for cell in _page_cells(screens)
        for token in backticked(cell)
        if token.startswith("pages/") and token not in declared
    ]


def rows_without_tests(section_text: str, where: str) -> list[str]:
    return [
        f'docs/architecture.md, "{where}": the row for {row[0]} names no test file'
        for row in table_rows(section_text)
        if not any(token.startswith("tests/") for cell in row for token in backticked(cell))
    ]


# --- endpoints -------------------------------------------------------------------------------------------------------


def route_table(routes: Iterable[BaseRoute], prefix: str = "") -> dict[str, frozenset[str]]:
    """Path to the methods served there (HEAD, which Starlette adds to every GET, left out), mounts included."""
    table: dict[str, set[str]] = {}
    for route in routes:
        if isinstance(route, Mount):
            for path, methods in route_table(route.routes, prefix + route.path).items():
                table.setdefault(path, set()).update(methods)
        elif isinstance(route, Route):
            table.setdefault(prefix + route.path, set()).update((route.methods or set()) - {"HEAD"})
        elif isinstance(route, WebSocketRoute):
            table.setdefault(prefix + route.path, set()).add("WEBSOCKET")
    return {path: frozenset(methods) for path, methods in table.items()}


def documented_endpoints(endpoints: str) -> list[tuple[str, frozenset[str], str]]:
    """(app, methods named, path) for each endpoint a row of "Endpoints" names in its second cell."""
    found: list[tuple[str, frozenset[str], str]] = []
    for row in table_rows(endpoints):
        if len(row) < 2:
            continue
        for token in backticked(row[1]):
            match = ENDPOINT.match(token)
            if match:
                found.append((row[0], frozenset(match.group(1).split()), match.group(2)))
    return found


def routes_without_row(served: Routes, endpoints: str) -> list[str]:
    documented = {(app, path) for app, _, path in documented_endpoints(endpoints)}
    return [
        f'the {app} serves {path} but no row of docs/architecture.md, "Endpoints", names it for the {app}'
        for app, table in served.items()
        for path in table
        if (app, path) not in documented
    ]


def rows_without_route(served: Routes, endpoints: str) -> list[str]:
    problems: list[str] = []
    for app, methods, path in documented_endpoints(endpoints):
        endpoint = " ".join([*sorted(methods), path])
        where = f'docs/architecture.md, "Endpoints", names {endpoint} for {app!r}'
        table = served.get(app)
        if table is None:
            problems.append(f"{where}: no app of that name (one of {', '.join(sorted(served))})")
        elif path not in table:
            problems.append(f"{where}, which it does not serve")
        elif not methods <= table[path]:
            problems.append(f"{where}, but it answers there only {', '.join(sorted(table[path]))}")
    return problems


# --- settings --------------------------------------------------------------------------------------------------------


def settings_read(settings_source: str) -> set[str]:
    """The names services/settings.py gives settings (each one read from the environment or secrets.toml)."""
    return {
        node.value
        for node in ast.walk(ast.parse(settings_source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SETTING_NAME.fullmatch(node.value)
    }


def undocumented_settings(settings: Iterable[str], reference: str, where: str) -> list[str]:
    named = set(SETTING_NAME.findall(reference))
    return [
        f"services/settings.py reads {name}, which {where} does not name"
        for name in sorted(settings)
        if name not in named
    ]


def unknown_settings(settings: Iterable[str], constants: Iterable[str], documents: Mapping[str, str]) -> list[str]:
    """Setting-like names in the documents that are neither a setting nor a constant of the code."""
    known = set(settings) | set(constants)
    return [
        f"{document} names {name}, which services/settings.py does not read"
        for document, text in documents.items()
        for name in sorted(set(SETTING_NAME.findall(text)))
        if name not in known
    ]


def code_constants(sources: Iterable[str]) -> set[str]:
    """Module-level upper-case names the code defines (CONSOLE_FORMER_NAMES is a constant, not a setting)."""
    return {name for source in sources for name in re.findall(r"^([A-Z][A-Z0-9_]+)\s*[:=]", source, re.MULTILINE)}


# --- paths -----------------------------------------------------------------------------------------------------------


def named_paths(markdown: str) -> list[str]:
    """Paths in the tree a document names in backticks, from the project's root."""
    paths = []
    for token in backticked(markdown):
        for match in TREE_PATH.finditer(token):
            follows = token[match.end() : match.end() + 1]
            if follows in {"<", "{", "*"}:  # a pattern (`tests/<package>/...`), not a path
                continue
            paths.append(match.group(1).rstrip("."))
    return paths


def _tree_entries(block: str) -> list[str]:
    """`services/` then `  store.py` indented under it: "services/store.py"."""
    parents: list[tuple[int, str]] = []
    paths = []
    for line in block.splitlines():
        entry = TREE_ENTRY.match(line)
        if entry is None:
            continue  # a description carried over from the line above
        indent, name = len(entry.group(1)), entry.group(2)
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = (parents[-1][1] if parents else "") + name
        paths.append(path)
        if name.endswith("/"):
            parents.append((indent, path))
    return paths


def tree_paths(markdown: str) -> list[str]:
    """Paths drawn as a tree in a fenced block (the Layout of README.md and docs/architecture.md): a block whose
    first line is a folder, such as `services/`."""
    paths = []
    for block in FENCED.findall(markdown):
        if TREE_ENTRY.match(block) and block.split()[0].endswith("/"):
            paths += _tree_entries(block)
    return paths


def linked_paths(markdown: str) -> list[str]:
    """The targets of a document's relative links, from the document's folder (as a browser follows them)."""
    targets = (target.split("#")[0] for target in LINK.findall(markdown))
    return [target for target in targets if target and not re.match(r"^[a-z]+:", target)]


def _module_defines(root: Path, path: str) -> bool:
    """`services/whatsapp.limit_value`: a module, and a name it defines."""
    module, _, name = path.rpartition(".")
    source = root / f"{module}.py"
    return bool(module) and source.is_file() and re.search(rf"\b{re.escape(name)}\b", source.read_text()) is not None


def missing_paths(document: str, markdown: str, folder: Path, root: Path) -> list[str]:
    """Named paths not in the tree; `folder` is the document's own, where its links start."""
    named = [*named_paths(markdown), *tree_paths(markdown)]
    missing = [path for path in named if not (root / path).exists() and not _module_defines(root, path)]
    missing += [path for path in linked_paths(markdown) if not (folder / path).exists()]
    return [f"{document} names {path}, which is not in the tree" for path in dict.fromkeys(missing)]


def services_layout(root: Path) -> list[str]:
    """What the Layout must draw of services/: each package, at any depth, and each module at its root."""
    services = root / "services"
    packages = [f"{init.parent.relative_to(root).as_posix()}/" for init in sorted(services.rglob("__init__.py"))]
    modules = [f"services/{module.name}" for module in sorted(services.glob("*.py")) if module.name != "__init__.py"]
    return packages + modules


def undrawn_in_layout(expected: Iterable[str], drawn: Iterable[str]) -> list[str]:
    shown = set(drawn)
    return [
        f'{path} is in the tree but docs/architecture.md, "Layout", does not draw it'
        for path in expected
        if path not in shown
    ]


def unnamed_modules(modules: Iterable[str], text: str) -> list[str]:
    """Modules a newcomer would look for in "Where to change what" that it does not name."""
    return [
        f'{module} exists but docs/architecture.md, "Where to change what", does not name it'
        for module in modules
        if f"`{module}`" not in text
    ]


def dashboard_modules(root: Path) -> list[str]:
    """Every module of the Streamlit shell: each belongs to a screen or an endpoint."""
    return [
        f"dashboard/{module.name}"
        for module in sorted((root / "dashboard").glob("*.py"))
        if module.name != "__init__.py"
    ]


# --- what the code serves --------------------------------------------------------------------------------------------


def console_routes(monkeypatch: pytest.MonkeyPatch) -> dict[str, frozenset[str]]:
    """The console's own routes (dashboard/server.py), the Streamlit routes it relies on (health, single
    sign-on), and the routes the edge closes."""
    # dashboard/server.py refuses to load unless started by its launcher, which sets this variable.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "")
    server = importlib.import_module("dashboard.server")
    # st.App keeps the routes it was given apart from Streamlit's own, which it builds only when served.
    table = route_table([*server.app._user_routes, *create_health_routes(None, ""), *create_auth_routes("")])
    closed = {path: frozenset() for path in (*edge.CLOSED_PATHS, *edge.CLOSED_PREFIXES)}
    return {**table, **closed}


def receiver_app() -> Starlette:
    """Built, not started: its writer process starts only with the app's lifespan."""
    return create_receiver(load_settings(role="receiver"))


def sandbox_app() -> Starlette:
    return create_sandbox(load_settings(role="sandbox"))


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, demo: Path) -> dict[str, dict[str, frozenset[str]]]:
    return {
        CONSOLE: console_routes(monkeypatch),
        RECEIVER: route_table(receiver_app().routes),
        SANDBOX: route_table(sandbox_app().routes),
    }


def assert_none(problems: list[str]) -> None:
    """Fails with every problem on a line of its own, each naming what is missing where."""
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _architecture(heading: str) -> str:
    return section(ARCHITECTURE.read_text(), heading)


# --- the tree and its documents agree --------------------------------------------------------------------------------


def test_every_declared_page_has_a_row_and_every_row_a_page() -> None:
    pages = declared_pages(APP_SCRIPT.read_text())
    screens = _architecture("Screens")
    assert_none(pages_without_row(pages, screens) + rows_without_page(pages, screens))


def test_every_screen_and_endpoint_row_names_its_tests() -> None:
    problems = rows_without_tests(_architecture("Screens"), "Screens")
    problems += rows_without_tests(_architecture("Endpoints"), "Endpoints")
    assert_none(problems)


def test_every_served_route_has_a_row_and_every_row_a_route(served: Routes) -> None:
    endpoints = _architecture("Endpoints")
    assert_none(routes_without_row(served, endpoints) + rows_without_route(served, endpoints))


def test_every_setting_is_documented() -> None:
    settings = settings_read(SETTINGS_MODULE.read_text())
    reference = section(OPERATIONS.read_text(), "Settings by group")
    problems = undocumented_settings(settings, reference, 'docs/operations.md, "Settings by group",')
    problems += undocumented_settings(settings, SETTINGS_EXAMPLE.read_text(), ".streamlit/secrets.toml.example")
    assert_none(problems)


def test_every_setting_the_documents_name_is_read() -> None:
    settings = settings_read(SETTINGS_MODULE.read_text())
    constants = code_constants(path.read_text() for path in (ROOT / "services").rglob("*.py"))
    documents = {str(path.relative_to(ROOT)): path.read_text() for path in (*DOCUMENTS, SETTINGS_EXAMPLE)}
    assert_none(unknown_settings(settings, constants, documents))


def test_the_layout_draws_every_package_and_core_module() -> None:
    assert_none(undrawn_in_layout(services_layout(ROOT), tree_paths(_architecture("Layout"))))


def test_every_dashboard_module_is_named_where_to_change_what() -> None:
    assert_none(unnamed_modules(dashboard_modules(ROOT), _architecture("Where to change what")))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_path_a_document_names_exists(document: Path) -> None:
    assert_none(missing_paths(str(document.relative_to(ROOT)), document.read_text(), document.parent, ROOT))


# --- each check fails on a planted case ------------------------------------------------------------------------------

PLANTED_PAGE = '        st.Page(PAGES / "billing.py", title="Billing", url_path="billing"),\n'


def test_a_page_added_without_a_row_is_reported() -> None:
    source = APP_SCRIPT.read_text()
    anchor = '        st.Page(PAGES / "alerts.py"'
    assert anchor in source
    planted = source.replace(anchor, PLANTED_PAGE + anchor, 1)
    problems = pages_without_row(declared_pages(planted), _architecture("Screens"))
    assert problems == [
        'pages/billing.py is declared in dashboard/app.py but no row of docs/architecture.md, "Screens", names it'
    ]


def test_a_page_only_some_see_is_read_too() -> None:
    pages = declared_pages(APP_SCRIPT.read_text())
    assert {"pages/demo.py", "pages/landing.py", "sign_in"} <= set(pages)


def test_a_page_declared_another_way_is_read_or_reported() -> None:
    source = "ROOT = Path(__file__).parent\nst.Page(ROOT / 'pages' / 'billing.py')\nst.Page(page=pick('x'))\n"
    assert declared_pages(source) == ["pages/billing.py", "pick('x')"]


def test_a_row_naming_a_page_that_is_gone_is_reported() -> None:
    screens = _architecture("Screens") + "| Billing | `pages/billing.py` | none | none | `tests/pages/test_x.py` |\n"
    problems = rows_without_page(declared_pages(APP_SCRIPT.read_text()), screens)
    assert problems == [
        'docs/architecture.md, "Screens", names pages/billing.py, which dashboard/app.py does not declare'
    ]


def test_a_row_without_tests_is_reported() -> None:
    screens = "| screen | page script | tests |\n| --- | --- | --- |\n| Billing | `pages/billing.py` | none |\n"
    assert rows_without_tests(screens, "Screens") == [
        'docs/architecture.md, "Screens": the row for Billing names no test file'
    ]


def test_a_route_added_without_a_row_is_reported(served: Routes) -> None:
    receiver = receiver_app()
    receiver.router.routes.append(Route("/metrics", lambda request: PlainTextResponse(""), methods=["GET"]))
    planted = {**served, RECEIVER: route_table(receiver.routes)}
    assert routes_without_row(planted, _architecture("Endpoints")) == [
        'the receiver serves /metrics but no row of docs/architecture.md, "Endpoints", names it for the receiver'
    ]


def test_a_row_naming_a_route_that_is_not_served_is_reported(served: Routes) -> None:
    endpoints = (
        "| served by | endpoint | code | tests |\n| --- | --- | --- | --- |\n"
        "| receiver | `GET /metrics`, `DELETE /healthz` | none | `tests/receiver/test_server.py` |\n"
        "| scheduler | `GET /healthz` | none | none |\n"
    )
    assert rows_without_route(served, endpoints) == [
        "docs/architecture.md, \"Endpoints\", names GET /metrics for 'receiver', which it does not serve",
        "docs/architecture.md, \"Endpoints\", names DELETE /healthz for 'receiver', but it answers there only GET",
        "docs/architecture.md, \"Endpoints\", names GET /healthz for 'scheduler': no app of that name "
        "(one of console, receiver, sandbox hub)",
    ]


def test_a_setting_read_without_documentation_is_reported() -> None:
    source = SETTINGS_MODULE.read_text()
    anchor = 'source.text("CONSOLE_TRUSTED_PROXIES")'
    assert anchor in source
    planted = source.replace(anchor, f'{anchor} or source.text("CONSOLE_BILLING_PLAN")', 1)
    reference = section(OPERATIONS.read_text(), "Settings by group")
    assert undocumented_settings(settings_read(planted), reference, "docs/operations.md") == [
        "services/settings.py reads CONSOLE_BILLING_PLAN, which docs/operations.md does not name"
    ]


def test_a_documented_setting_the_code_does_not_read_is_reported() -> None:
    settings = settings_read(SETTINGS_MODULE.read_text())
    documents = {"docs/operations.md": OPERATIONS.read_text() + "\nSet `CONSOLE_BILLING_PLAN` to ...\n"}
    assert unknown_settings(settings, {"CONSOLE_FORMER_NAMES"}, documents) == [
        "docs/operations.md names CONSOLE_BILLING_PLAN, which services/settings.py does not read"
    ]


def test_a_path_that_is_gone_is_reported() -> None:
    markdown = (
        "The store is `services/store.py`, the rules `services/whatsapp.limit_value`; see [testing](docs/testing.md).\n"
        "Gone: `services/home.py`, `pages/billing.py`, [old](docs/old.md), `services/whatsapp.no_such_name`.\n"
        "Not paths: `tests/<package>/test_<module>.py`, `/dashboard/app/{partner_id}`, `{SANDBOX_URL}/api/v2`.\n"
    )
    assert missing_paths("README.md", markdown, ROOT, ROOT) == [
        "README.md names services/home.py, which is not in the tree",
        "README.md names pages/billing.py, which is not in the tree",
        "README.md names services/whatsapp.no_such_name, which is not in the tree",
        "README.md names docs/old.md, which is not in the tree",
    ]


def test_a_path_drawn_in_a_tree_that_is_gone_is_reported() -> None:
    block = [
        "services/        the core",
        "  store.py       the store",
        "  home.py        gone",
        "  keys/          keys",
        "                 (a description carried over)",
        "    health/      key health",
        "    gone/        gone",
    ]
    markdown = "```\n" + "\n".join(block) + "\n```\n"
    assert tree_paths(markdown) == [
        "services/",
        "services/store.py",
        "services/home.py",
        "services/keys/",
        "services/keys/health/",
        "services/keys/gone/",
    ]
    assert missing_paths("README.md", markdown, ROOT, ROOT) == [
        "README.md names services/home.py, which is not in the tree",
        "README.md names services/keys/gone/, which is not in the tree",
    ]


def test_a_module_the_layout_does_not_draw_is_reported(tmp_path: Path) -> None:
    for name in ("services/__init__.py", "services/store.py", "services/times.py", "services/keys/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    drawn = tree_paths("```\nservices/        the core\n  store.py       the store\n```\n")
    assert undrawn_in_layout(services_layout(tmp_path), drawn) == [
        'services/keys/ is in the tree but docs/architecture.md, "Layout", does not draw it',
        'services/times.py is in the tree but docs/architecture.md, "Layout", does not draw it',
    ]


def test_routes_under_a_mount_are_read_with_their_prefix() -> None:
    def answer(request: object) -> PlainTextResponse:
        return PlainTextResponse("")

    routes = [Mount("/admin", routes=[Route("/reset", answer, methods=["POST"])]), Route("/healthz", answer)]
    assert route_table(routes) == {"/admin/reset": frozenset({"POST"}), "/healthz": frozenset({"GET"})}


def test_a_dashboard_module_added_without_a_mention_is_reported() -> None:
    text = "| Events | `pages/events.py` | `dashboard/event_views.py` | ... |"
    problems = unnamed_modules(["dashboard/event_views.py", "dashboard/billing_views.py"], text)
    assert problems == [
        'dashboard/billing_views.py exists but docs/architecture.md, "Where to change what", does not name it'
    ]
