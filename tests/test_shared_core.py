"""The root of `services/` holds the shared core and nothing else, and its import contract names exactly that:
every module at the root is held to depend on no package, and every package under `services/` is forbidden to it.
A program added at the root, or a package the contract does not forbid, fails here."""

from __future__ import annotations

import tomllib

from tests.support import ROOT

SHARED_CORE_CONTRACT = "the shared core depends on no domain package or program"
SERVICES = ROOT / "services"


def shared_core_contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == SHARED_CORE_CONTRACT]
    return contract


def root_modules() -> set[str]:
    return {f"services.{path.stem}" for path in SERVICES.glob("*.py") if path.stem != "__init__"}


def packages() -> set[str]:
    return {f"services.{path.parent.name}" for path in SERVICES.glob("*/__init__.py")}


def test_the_contract_holds_every_module_at_the_root_of_services_and_no_other() -> None:
    assert set(shared_core_contract()["source_modules"]) == root_modules()


def test_the_contract_forbids_the_core_every_package_under_services() -> None:
    assert set(shared_core_contract()["forbidden_modules"]) == packages()


def test_the_programs_live_with_their_packages_not_at_the_root() -> None:
    # Each program is a package's `python -m` entry (its __main__.py) or a module inside a package.
    assert (SERVICES / "stack" / "__main__.py").exists()
    assert (SERVICES / "onboarding" / "partner_setup.py").exists()
    assert not {"services.stack", "services.partner_setup"} & root_modules()
