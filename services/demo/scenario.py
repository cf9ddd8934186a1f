"""The console's half of the realistic demo: the hub seeds, then the console catches up.

`load_scenario` asks the sandbox hub to seed about 40 clients and 150 channels (`services.sandbox.scenario`,
reached over the hub's admin API), stores each client's redirect, syncs every channel from the Partner API
and generates keys for some running channels, each through the same functions the landing page, the sync
and the Channels page use; then it lets the hub release the held webhooks.

`python -m services.demo.scenario` loads it into a running demo stack.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from dataclasses import dataclass, field

from sqlite_utils import Database

from services.accounts import Person, command_line_person, enforce
from services.channels.sync import sync_channels
from services.demo.controls import DEMO_ACTION, reset_demo, store_redirect_query
from services.demo.hub_client import SandboxClient, SandboxError
from services.keys.generation import KeyNotAllowed, generate_key
from services.keys.vault import KeyVault
from services.partner_api import PartnerApi, PartnerApiError
from services.settings import SettingsError, load_settings
from services.store import open_console_db


@dataclass
class ScenarioResult:
    clients: int
    channels: int
    events_queued: int
    redirects_stored: int
    channels_synced: int
    keys_generated: int
    key_failures: list[str] = field(default_factory=list)
    by_status: dict[str, int] = field(default_factory=dict)
    # The cases the scenario promises, as the hub seeded them: downgraded, revoked and stuck channels.
    cases: dict[str, int] = field(default_factory=dict)


def load_scenario(
    db: Database, api: PartnerApi, vault: KeyVault, sandbox: SandboxClient, *, actor: Person, seed: int | None = None
) -> ScenarioResult:
    """Seed the hub, then let the console catch up: redirects, a sync, and some keys, each as the actor. Raises
    NotAllowed (audited), before the hub is asked anything, when the actor's role may not use the demo controls."""
    enforce(db, actor, DEMO_ACTION)
    scenario = sandbox.seed(seed)
    try:
        for query in scenario["redirects"]:
            store_redirect_query(db, query, api, actor=actor)
        synced = sync_channels(db, api, actor=actor).seen
        keys, failures = 0, []
        for channel_id in scenario["key_channel_ids"]:
            # The write lock is taken first, so webhooks landing meanwhile (an earlier load's) make this wait
            # instead of failing; a refused key is recorded and committed like any other attempt.
            with db.atomic():
                try:
                    generate_key(db, api, vault, channel_id, actor=actor)
                except (KeyNotAllowed, PartnerApiError) as error:
                    failures.append(f"{channel_id}: {error}")
                else:
                    keys += 1
    finally:
        sandbox.release_webhooks()
    return ScenarioResult(
        clients=scenario["clients"],
        channels=scenario["channels"],
        events_queued=scenario["events"],
        redirects_stored=len(scenario["redirects"]),
        channels_synced=synced,
        keys_generated=keys,
        key_failures=failures,
        by_status=scenario["by_status"],
        cases={name: scenario.get(name, 0) for name in ("stuck", "downgraded", "revoked")},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the realistic demo scenario into a running demo stack.")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for the same scenario every time")
    parser.add_argument("--reset", action="store_true", help="reset the demo (hub and console) first")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        sandbox = SandboxClient.from_settings(settings)
    except (SettingsError, SandboxError) as error:
        print(f"demo scenario: {error}", file=sys.stderr)
        return 2
    api = PartnerApi.from_settings(settings)
    db = open_console_db(settings.console_db_path)
    try:
        actor = command_line_person(getpass.getuser())
        if args.reset:
            reset_demo(db, sandbox, actor=actor)
        result = load_scenario(db, api, KeyVault(settings.encryption_key), sandbox, actor=actor, seed=args.seed)
    except (SandboxError, PartnerApiError) as error:
        print(f"demo scenario: {error}", file=sys.stderr)
        return 1
    finally:
        db.close()
        api.close()
        sandbox.close()
    print(
        f"Loaded {result.clients} clients and {result.channels} channels {result.by_status}; "
        f"{result.events_queued} webhooks queued, {result.channels_synced} channels synced, "
        f"{result.keys_generated} keys generated, {len(result.key_failures)} key failures; "
        + ", ".join(f"{count} {case}" for case, count in result.cases.items())
        + "."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
