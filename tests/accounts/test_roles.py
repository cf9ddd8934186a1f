"""Roles and actions: every role against every action, the reason a refusal gives, demo mode's person."""

from __future__ import annotations

import pytest

from services.accounts import (
    ACTIONS,
    ADMIN,
    OPERATOR,
    VIEWER,
    NotAllowed,
    Person,
    SignInMethod,
    audit_fields,
    audit_identity,
    demo_person,
    may,
    refusal,
    require,
)
from services.accounts.roles import UnknownAction, UnknownRole

# What the console does today, by the least role that may do it (the table in docs/operations.md).
EXPECTED = {
    "hand_out_link": OPERATOR,
    "generate_key": OPERATOR,
    "bulk_generate_keys": OPERATOR,
    "reveal_key": OPERATOR,
    "export_keys": OPERATOR,
    "prepare_key": OPERATOR,
    "apply_redirect": OPERATOR,
    "discard_redirect": OPERATOR,
    "sync_channels": OPERATOR,
    "check_permission": OPERATOR,
    "handle_alert": OPERATOR,
    "send_test_alert": ADMIN,
    "demo_controls": ADMIN,
    "manage_accounts": ADMIN,
}
ORDER = (VIEWER, OPERATOR, ADMIN)


def person(role: str) -> Person:
    return Person(id=f"{role}@example.com", display_name=role.title(), role=role, method=SignInMethod.SSO)


def test_the_table_names_every_action_with_its_least_role() -> None:
    assert {name: action.least_role for name, action in ACTIONS.items()} == EXPECTED


@pytest.mark.parametrize("role", ORDER)
@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_each_role_may_exactly_what_its_rank_allows(role: str, action: str) -> None:
    allowed = ORDER.index(role) >= ORDER.index(EXPECTED[action])
    someone = person(role)
    assert may(someone, action) is allowed
    assert (refusal(someone, action) is None) is allowed
    if allowed:
        require(someone, action)
    else:
        with pytest.raises(NotAllowed) as refused:
            require(someone, action)
        assert str(refused.value) == refusal(someone, action)


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_a_viewer_is_refused_every_action_and_told_whom_to_ask(action: str) -> None:
    reason = refusal(person(VIEWER), action)
    assert reason is not None
    assert reason.startswith("Viewers cannot ")
    assert reason.endswith("ask an operator or an admin" if EXPECTED[action] == OPERATOR else "ask an admin")


def test_the_reasons_read_as_sentences() -> None:
    assert refusal(person(VIEWER), "generate_key") == (
        "Viewers cannot generate keys (which revokes the channel's current key): ask an operator or an admin"
    )
    assert refusal(person(OPERATOR), "manage_accounts") == "Operators cannot manage accounts: ask an admin"


def test_not_allowed_is_a_permission_error() -> None:
    with pytest.raises(PermissionError):
        require(person(VIEWER), "sync_channels")


def test_an_unknown_action_or_role_is_a_programming_error() -> None:
    with pytest.raises(UnknownAction):
        may(person(ADMIN), "launch_rockets")
    with pytest.raises(UnknownRole):
        Person(id="x", display_name="x", role="superuser", method=SignInMethod.PASSWORD)


def test_demo_mode_acts_as_an_admin_named_demo() -> None:
    demo = demo_person()
    assert (demo.id, demo.role, demo.method) == ("demo", ADMIN, SignInMethod.DEMO)
    assert all(may(demo, action) for action in EXPECTED)


def test_the_audit_gets_the_verified_identity_and_the_role() -> None:
    ana = Person(id="ana@example.com", display_name="Ana", role=OPERATOR, method=SignInMethod.SSO)
    assert audit_identity(ana) == "ana@example.com (operator)"
    assert audit_fields(ana) == {"operator": "ana@example.com", "role": "operator"}


def test_a_person_cannot_be_changed_once_made() -> None:
    ana = person(VIEWER)
    with pytest.raises(AttributeError):
        ana.role = ADMIN  # type: ignore[misc]
