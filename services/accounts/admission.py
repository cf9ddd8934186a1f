"""Who single sign-on lets in, and with which role: pure functions over the identity token's claims.

Streamlit's st.login checks the token's signature and exposes its claims (st.user); it checks neither who the
person is nor whether the token has expired. `admit` does both, with nothing but the claims, the policy read
from the settings and the time:

- The e-mail must be verified: `email_verified` true. A provider that omits it (Microsoft Entra ID does for
  work accounts) counts as unverified, unless it sends Entra's `xms_edov` (the e-mail's domain is one the
  tenant verified) as true and no `email_verified` at all.
- The verified e-mail must be on CONSOLE_ALLOWED_EMAILS, or its domain, exactly, on CONSOLE_ALLOWED_DOMAINS:
  `example.com` never admits `example.com.evil.io`, `evil-example.com` or `eu.example.com`.
- The token must not have expired (`exp`), and the sign-in be no older than CONSOLE_SESSION_HOURS (by `iat`,
  or when the console first saw the sign-in, whichever is earlier).
- The role: with CONSOLE_ROLE_CLAIM, the claim names it (a role name, or a list holding role names: the
  highest counts); a claim that names no role refuses the person, rather than guess. Otherwise CONSOLE_ROLES
  (the person's own e-mail first, then their domain) or CONSOLE_DEFAULT_ROLE.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.accounts.roles import Person, SignInMethod, rank
from services.settings import Settings
from services.settings_rules import ACCESS_ROLES, EMAIL_PATTERN

SIGN_IN_AGAIN = "sign in again"
MAX_DISPLAY_NAME = 64


@dataclass(frozen=True)
class AdmissionPolicy:
    allowed_emails: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    role_map: Mapping[str, str] = field(default_factory=dict, hash=False)
    default_role: str = "viewer"
    role_claim: str | None = None
    session_hours: float = 12.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AdmissionPolicy:
        access = settings.access
        return cls(
            allowed_emails=frozenset(access.allowed_emails),
            allowed_domains=frozenset(access.allowed_domains),
            role_map=dict(access.role_map),
            default_role=access.default_role,
            role_claim=access.role_claim,
            session_hours=access.session_hours,
        )


@dataclass(frozen=True)
class Refusal:
    """Why a sign-in is refused, fit to show the person and to audit. `email` is what the token claimed (None
    when it held none); `sign_in_again` tells an expired sign-in (send them back to the provider) from a
    person who is not let in."""

    reason: str
    email: str | None = None
    sign_in_again: bool = False


def admit(
    claims: Mapping[str, Any], policy: AdmissionPolicy, now: float, *, session_started: float | None = None
) -> Person | Refusal:
    """The person the claims name, with their role; or why they are refused. `now` and `session_started` are
    Unix times; `session_started` is when the console first saw this sign-in, if it noted it."""
    email = _claimed_email(claims)
    expired = _expiry_problem(claims, policy, now, session_started)
    if expired is not None:
        return Refusal(expired, email, sign_in_again=True)
    if email is None:
        return Refusal("your identity provider did not send an e-mail address, so the console cannot tell who you are")
    if not _email_verified(claims):
        return Refusal(f"{email} is not a verified address at your identity provider", email)
    if not _allowed(email, policy):
        return Refusal(f"{email} is not on this console's list of allowed addresses or domains", email)
    role = _role(email, claims, policy)
    if role is None:
        return Refusal(
            f"your identity provider gave {email} no console role (claim {policy.role_claim}): "
            f"ask your administrator for one of {', '.join(ACCESS_ROLES)}",
            email,
        )
    return Person(id=email, display_name=_display_name(claims, email), role=role, method=SignInMethod.SSO)


def _claimed_email(claims: Mapping[str, Any]) -> str | None:
    value = claims.get("email")
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    return email if EMAIL_PATTERN.fullmatch(email) else None


def _true(value: object) -> bool:
    # Some providers send booleans as the strings "true"/"false".
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _email_verified(claims: Mapping[str, Any]) -> bool:
    if "email_verified" in claims:
        return _true(claims["email_verified"])
    return _true(claims.get("xms_edov"))


def _timestamp(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        moment = float(value)
    except ValueError:
        return None
    return moment if math.isfinite(moment) else None


def _expiry_problem(
    claims: Mapping[str, Any], policy: AdmissionPolicy, now: float, session_started: float | None
) -> str | None:
    expires = _timestamp(claims.get("exp"))
    if expires is None:
        return f"your sign-in carries no expiry time: {SIGN_IN_AGAIN}"
    if now >= expires:
        return f"your sign-in has expired: {SIGN_IN_AGAIN}"
    starts = [moment for moment in (_timestamp(claims.get("iat")), session_started) if moment is not None]
    if starts and now - min(starts) > policy.session_hours * 3600:
        return f"your sign-in is older than {policy.session_hours:g} hours: {SIGN_IN_AGAIN}"
    return None


def _domain(email: str) -> str:
    return email.rpartition("@")[2]


def _allowed(email: str, policy: AdmissionPolicy) -> bool:
    return email in policy.allowed_emails or _domain(email) in policy.allowed_domains


def _role(email: str, claims: Mapping[str, Any], policy: AdmissionPolicy) -> str | None:
    if policy.role_claim:
        return _role_from_claim(claims.get(policy.role_claim))
    return policy.role_map.get(email) or policy.role_map.get(_domain(email)) or policy.default_role


def _role_from_claim(value: object) -> str | None:
    values = value if isinstance(value, list | tuple) else [value]
    named = {item.strip().lower() for item in values if isinstance(item, str)} & set(ACCESS_ROLES)
    return max(named, key=rank) if named else None


def _display_name(claims: Mapping[str, Any], email: str) -> str:
    name = claims.get("name")
    if isinstance(name, str) and name.strip() and name.isprintable():
        return name.strip()[:MAX_DISPLAY_NAME]
    return email
