"""The rules a setting must pass: strong secrets, keys, sign-in, https, loopback. Each failure names the
setting and never its value."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import string
from collections.abc import Callable
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from services.password_hash import InvalidPasswordHash, check_hash_format

MIN_LIVE_SECRET_LENGTH = 16
# A secret of 16+ characters drawn from only a handful of distinct ones ("aaaa...", "abababab...") is a
# placeholder, not a secret.
MIN_LIVE_SECRET_DISTINCT = 8
HOSTNAME_PATTERN = re.compile(r"^[A-Za-z0-9.-]{1,253}$")
LOOPBACK_NAMES = ("localhost",)
HEADER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the setting, never its value."""


def check_encryption_key(key: str) -> str:
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise SettingsError("CONSOLE_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)") from None
    return key


def require_strong(key: str, value: str | None) -> str:
    if not value:
        raise SettingsError(f"{key} is required in live mode")
    if len(value) < MIN_LIVE_SECRET_LENGTH:
        raise SettingsError(f"{key} is too short (at least {MIN_LIVE_SECRET_LENGTH} characters)")
    if len(set(value)) < MIN_LIVE_SECRET_DISTINCT:
        raise SettingsError(f"{key} is too weak: it repeats a few characters; use a random secret")
    return value


def require_strong_fernet_key(key: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(key.encode())
    except (ValueError, binascii.Error):
        raw = b""
    if len(set(raw)) < MIN_LIVE_SECRET_DISTINCT:
        raise SettingsError("CONSOLE_ENCRYPTION_KEY is too weak: generate one with Fernet.generate_key()")
    return key


def require_id(key: str, value: str) -> str:
    if not value:
        raise SettingsError(f"{key} is required in live mode")
    return value


def require_partner_credentials(api_key: str | None, username: str | None) -> None:
    if api_key:
        require_strong("D360_PARTNER_API_KEY", api_key)
    elif not username:
        raise SettingsError("D360_PARTNER_API_KEY (or D360_USERNAME and D360_PASSWORD) is required in live mode")


def require_encryption_key(value: str) -> str:
    if not value:
        raise SettingsError("CONSOLE_ENCRYPTION_KEY is required in live mode")
    return check_encryption_key(value)


def require_sign_in(oidc_configured: bool, auth_table: object) -> None:
    """Single sign-on needs a strong cookie secret. Without it, people sign in with password accounts, kept in
    the console database: the sign-in page says how to add the first (settings cannot see the database)."""
    if oidc_configured:
        cookie_secret = str(auth_table.get("cookie_secret")) if isinstance(auth_table, dict) else None
        require_strong("[auth] cookie_secret", cookie_secret)


def require_https(key: str, url: str) -> None:
    # Plain http stays on this machine only: a local stand-in for 360dialog, or a tunnel's local end.
    parts = urlsplit(url)
    if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
        raise SettingsError(f"{key} must be an https URL in live mode")


def check_password_hash(value: str | None) -> str | None:
    if not value:
        return None
    try:
        check_hash_format(value)
    except InvalidPasswordHash as error:
        raise SettingsError(str(error)) from None
    return value


def is_loopback(address: str) -> bool:
    if address.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def collect(problems: list[str], check: Callable[[], object]) -> None:
    """Run one start check; a failure joins the list, so every missing setting is named at once."""
    try:
        check()
    except SettingsError as error:
        problems.append(str(error))


def check_bind_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not HOSTNAME_PATTERN.match(value):
            raise SettingsError("CONSOLE_BIND_ADDRESS must be an IP address or a host name") from None
    return value


# What a messaging webhook URL template may name; each is filled in, percent-encoded, per channel.
WEBHOOK_TEMPLATE_FIELDS = frozenset({"channel_id", "client_id", "phone_number"})


def check_messaging_webhook_template(value: str | None) -> str | None:
    """CONSOLE_MESSAGING_WEBHOOK_URL: an https URL, optionally naming {channel_id}, {client_id} or
    {phone_number}. Meta refuses webhook hosts with '_' or a port, so those are refused here first."""
    if not value:
        return None
    key = "CONSOLE_MESSAGING_WEBHOOK_URL"
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError:
        raise SettingsError(f"{key} has an unbalanced '{{' or '}}'") from None
    unknown = fields - WEBHOOK_TEMPLATE_FIELDS
    if unknown:
        raise SettingsError(f"{key} may name only {', '.join(sorted(WEBHOOK_TEMPLATE_FIELDS))} in braces")
    parts = urlsplit(value.format(**dict.fromkeys(fields, "x")))
    if parts.scheme != "https" or not parts.hostname:
        raise SettingsError(f"{key} must be an https URL (Meta delivers messages over https only)")
    if "_" in parts.hostname or parts.port is not None:
        raise SettingsError(f"{key}: Meta refuses webhook hosts with '_' or a port")
    return value


def check_messaging_webhook_headers(value: str | None) -> dict[str, str]:
    """CONSOLE_MESSAGING_WEBHOOK_HEADERS: a JSON object of header names to values sent with each message."""
    if not value:
        return {}
    key = "CONSOLE_MESSAGING_WEBHOOK_HEADERS"
    try:
        headers = json.loads(value)
    except ValueError:
        raise SettingsError(f"{key} must be a JSON object of header names to values") from None
    if not isinstance(headers, dict) or not all(
        isinstance(name, str) and HEADER_NAME_PATTERN.match(name) and isinstance(text, str)
        for name, text in headers.items()
    ):
        raise SettingsError(f"{key} must be a JSON object of header names to text values")
    return headers


# A Messaging API host pattern: a host name with shell wildcards, optionally ':port'.
HOST_PATTERN = re.compile(r"^(?P<name>[a-z0-9*?.-]{1,253})(?::(?P<port>[0-9]{1,5}))?$")


def check_messaging_api_hosts(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """CONSOLE_MESSAGING_API_HOSTS: where a generated key may be sent. A wildcard must be followed by at least
    two fixed labels ("*.360dialog.io"), so no pattern opens a whole top-level domain or every host."""
    key = "CONSOLE_MESSAGING_API_HOSTS"
    if not patterns:
        raise SettingsError(f"{key} must name at least one host pattern")
    for position, pattern in enumerate(patterns, start=1):
        match = HOST_PATTERN.match(pattern)
        if not match or not 0 < int(match["port"] or 443) < 65536:
            raise SettingsError(f"{key}: item {position} is not a host name pattern (letters, digits, . - * ?, :port)")
        fixed_end = re.split(r"[*?]", match["name"])[-1]
        if fixed_end != match["name"] and len([label for label in fixed_end.split(".") if label]) < 2:
            raise SettingsError(f"{key}: item {position} needs two fixed labels after a wildcard (*.360dialog.io)")
    return patterns


# -- team access (services/accounts) -------------------------------------------------------------------------

# A person's role, least to most: what each may do is services/accounts/roles.py.
ACCESS_ROLES = ("viewer", "operator", "admin")
EMAIL_PATTERN = re.compile(
    r"^[^@\s,;=]+@(?P<domain>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)$"
)
DOMAIN_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
CLAIM_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_:./-]{1,128}$")
LIST_SEPARATORS = re.compile(r"[\s,]+")


def _items(raw: str | None) -> list[str]:
    return [item for item in LIST_SEPARATORS.split((raw or "").strip().lower()) if item]


def check_allowed_emails(raw: str | None) -> tuple[str, ...]:
    """CONSOLE_ALLOWED_EMAILS: e-mail addresses, comma or space separated, compared without regard to case."""
    emails = _items(raw)
    for position, email in enumerate(emails, start=1):
        if not EMAIL_PATTERN.fullmatch(email):
            raise SettingsError(f"CONSOLE_ALLOWED_EMAILS: item {position} is not an e-mail address")
    return tuple(dict.fromkeys(emails))


def check_allowed_domains(raw: str | None) -> tuple[str, ...]:
    """CONSOLE_ALLOWED_DOMAINS: e-mail domains, each matched exactly (a subdomain is a domain of its own)."""
    domains = [item.removeprefix("@") for item in _items(raw)]
    for position, domain in enumerate(domains, start=1):
        if "*" in domain:
            raise SettingsError(
                f"CONSOLE_ALLOWED_DOMAINS: item {position} has a wildcard; list each domain exactly, subdomains too"
            )
        if not DOMAIN_PATTERN.fullmatch(domain):
            raise SettingsError(f"CONSOLE_ALLOWED_DOMAINS: item {position} is not a domain name (example.com)")
    return tuple(dict.fromkeys(domains))


def check_access_role(key: str, value: str) -> str:
    role = value.strip().lower()
    if role not in ACCESS_ROLES:
        raise SettingsError(f"{key} must be one of {', '.join(ACCESS_ROLES)}")
    return role


def check_role_map(raw: str | None) -> tuple[tuple[str, str], ...]:
    """CONSOLE_ROLES: `role=who who; role=who`, where each `who` is an e-mail address or a domain.

    Returns (who, role) pairs; one address or domain may have one role only."""
    key = "CONSOLE_ROLES"
    pairs: dict[str, str] = {}
    for position, group in enumerate((part for part in (raw or "").split(";") if part.strip()), start=1):
        role_name, equals, who_list = group.partition("=")
        if not equals:
            raise SettingsError(f"{key}: group {position} is not of the form role=who (admin=ana@example.com)")
        role = check_access_role(f"{key}: group {position}'s role", role_name)
        for who in _items(who_list):
            who = who.removeprefix("@")
            if not (EMAIL_PATTERN.fullmatch(who) or DOMAIN_PATTERN.fullmatch(who)):
                raise SettingsError(f"{key}: group {position} names something that is not an e-mail or a domain")
            if pairs.get(who, role) != role:
                raise SettingsError(f"{key}: one address or domain is given two roles")
            pairs[who] = role
    return tuple(pairs.items())


def check_claim_name(value: str | None) -> str | None:
    if not value:
        return None
    if not CLAIM_NAME_PATTERN.match(value):
        raise SettingsError("CONSOLE_ROLE_CLAIM must be a claim name (letters, digits, _ : . / -)")
    return value


def require_team_allowlist(oidc_configured: bool, emails: tuple[str, ...], domains: tuple[str, ...]) -> None:
    """Single sign-on alone would let in every account of the identity provider (every Google account)."""
    if oidc_configured and not (emails or domains):
        raise SettingsError(
            "single sign-on needs CONSOLE_ALLOWED_EMAILS or CONSOLE_ALLOWED_DOMAINS: "
            "without them every account of the identity provider could sign in"
        )


def check_role_source(role_claim: str | None, role_map: tuple[tuple[str, str], ...]) -> None:
    if role_claim and role_map:
        raise SettingsError("CONSOLE_ROLE_CLAIM and CONSOLE_ROLES cannot both be set: with the claim, the IdP decides")
