"""People to act as in tests: an operator by default, any role on request."""

from __future__ import annotations

from services.accounts import OPERATOR, Person, SignInMethod


def person(name: str = "ana", role: str = OPERATOR) -> Person:
    """A person signed in with a password account, as the sign-in would make them."""
    return Person(id=name, display_name=name, role=role, method=SignInMethod.PASSWORD)
