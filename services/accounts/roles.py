"""Who a person is, the role they act in, and what each role may do: one table of actions to the least role.

Every action of the console that changes something, or shows a secret, is named in ACTIONS; reading is open to
every signed-in person (viewers included), CSV exports of what a page lists among it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.settings_rules import ACCESS_ROLES

VIEWER, OPERATOR, ADMIN = ACCESS_ROLES
ROLE_PLURALS = {VIEWER: "Viewers", OPERATOR: "Operators", ADMIN: "Admins"}
# Whom to ask, per least role an action needs.
ASK = {OPERATOR: "ask an operator or an admin", ADMIN: "ask an admin"}
DEMO_NAME = "demo"


class SignInMethod(StrEnum):
    SSO = "sso"
    PASSWORD = "password"  # noqa: S105 - a sign-in method, not a password
    DEMO = "demo"
    # `python -m services.accounts`, run on the server by someone with its shell.
    COMMAND_LINE = "command_line"
    # A process of the console acting on its own schedule: the scheduler, a background job.
    SYSTEM = "system"


@dataclass(frozen=True)
class Action:
    name: str
    least_role: str
    # What it does, finishing "Viewers cannot ...".
    what: str


_ACTIONS = (
    Action("hand_out_link", OPERATOR, "hand out IO links"),
    Action("generate_key", OPERATOR, "generate keys (which revokes the channel's current key)"),
    Action("bulk_generate_keys", OPERATOR, "generate keys in bulk"),
    Action("reveal_key", OPERATOR, "reveal a new key"),
    Action("export_keys", OPERATOR, "download new keys"),
    Action("prepare_key", OPERATOR, "make keys ready to use or retry a step"),
    Action("apply_redirect", OPERATOR, "apply redirects held for review"),
    Action("discard_redirect", OPERATOR, "discard redirects"),
    Action("sync_channels", OPERATOR, "sync channels with the Partner API"),
    Action("check_permission", OPERATOR, "ask 360dialog which numbers a client shared"),
    Action("send_test_alert", ADMIN, "send test alerts"),
    Action("handle_alert", OPERATOR, "acknowledge or snooze alerts"),
    Action("demo_controls", ADMIN, "use the demo controls"),
    Action("manage_accounts", ADMIN, "manage accounts"),
)
ACTIONS: dict[str, Action] = {action.name: action for action in _ACTIONS}


class UnknownRole(ValueError):
    """A role name that is not viewer, operator or admin."""


class UnknownAction(KeyError):
    """An action missing from ACTIONS: a programming error, never a person's."""


class NotAllowed(PermissionError):
    """The person's role may not do this; the message is the reason, fit to show them."""


@dataclass(frozen=True)
class Person:
    """A signed-in person. `id` is stable: the e-mail for single sign-on, the account name for a password
    account, "demo" in demo mode; it is what the audit records. Made only by the sign-in code paths
    (services.accounts), never from what a page's widget or the URL holds."""

    id: str
    display_name: str
    role: str
    method: SignInMethod

    def __post_init__(self) -> None:
        check_role(self.role)


def check_role(role: str) -> str:
    if role not in ACCESS_ROLES:
        raise UnknownRole(f"a role is one of {', '.join(ACCESS_ROLES)}")
    return role


def rank(role: str) -> int:
    return ACCESS_ROLES.index(check_role(role))


def action(name: str) -> Action:
    try:
        return ACTIONS[name]
    except KeyError:
        raise UnknownAction(name) from None


def may(person: Person, action_name: str) -> bool:
    return rank(person.role) >= rank(action(action_name).least_role)


def refusal(person: Person, action_name: str) -> str | None:
    """Why `person` may not do the action, in words fit to show them; None when they may."""
    if may(person, action_name):
        return None
    wanted = action(action_name)
    return f"{ROLE_PLURALS[person.role]} cannot {wanted.what}: {ASK[wanted.least_role]}"


def require(person: Person, action_name: str) -> None:
    """Raise NotAllowed, with the reason, unless the person's role may do the action."""
    reason = refusal(person, action_name)
    if reason is not None:
        raise NotAllowed(reason)


def demo_person() -> Person:
    """Demo mode has no sign-in: everyone acts as an admin named "demo"."""
    return Person(id=DEMO_NAME, display_name=DEMO_NAME, role=ADMIN, method=SignInMethod.DEMO)


def command_line_person(system_user: str) -> Person:
    """Whoever runs `python -m services.accounts` has the server's shell, so acts as an admin; the audit names
    the system user, as the console cannot know more."""
    name = f"command line ({system_user})"
    return Person(id=name, display_name=name, role=ADMIN, method=SignInMethod.COMMAND_LINE)


def system_person(name: str) -> Person:
    """A process of the console (the scheduler, a background job): it does what it was set up to do, so it acts
    as an admin; the audit names the process."""
    return Person(id=name, display_name=name, role=ADMIN, method=SignInMethod.SYSTEM)


def audit_identity(person: Person) -> str:
    """Who acted, in one line: "ana@example.com (operator)"."""
    return f"{person.id} ({person.role})"


def audit_fields(person: Person) -> dict[str, str]:
    """The audit row's `operator` and `role`: `audit.record(db, **audit_fields(person), action=...)`."""
    return {"operator": person.id, "role": person.role}
