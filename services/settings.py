"""One source of settings for the dashboard, the receiver and the sandbox hub.

Values come from `.streamlit/secrets.toml` (flat keys), each overridable by an environment variable of
the same name. The mode is explicit: `CONSOLE_MODE` is `demo` or `live`. Unset, it is `demo` only while no
live setting at all is present (a fresh clone); once one is, it is `live`, and each process checks what its
own role needs and stops at start naming what is missing: it never falls back to demo. In demo mode every
address points at the built-in sandbox hub, the demo secrets are generated once into the data folder so
that all processes agree on them, and nothing listens beyond loopback.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from services.addresses import InvalidProxyList, Network, parse_trusted_proxies
from services.phone_numbers import DEFAULT_REGION, check_region
from services.settings_rules import (
    SettingsError,
    check_access_role,
    check_allowed_domains,
    check_allowed_emails,
    check_bind_address,
    check_claim_name,
    check_encryption_key,
    check_messaging_api_hosts,
    check_messaging_webhook_headers,
    check_messaging_webhook_template,
    check_password_hash,
    check_role_map,
    check_role_source,
    collect,
    is_loopback,
    require_encryption_key,
    require_https,
    require_id,
    require_partner_credentials,
    require_sign_in,
    require_strong,
    require_strong_fernet_key,
    require_team_allowlist,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"
DEMO_PARTNER_ID = "demoPA"
DEMO_SECRETS_FILE = "demo-secrets.json"
# The sandbox only records where a number's messages would go; this host is reserved for examples.
DEMO_MESSAGING_WEBHOOK_URL = "https://messages.example.com/whatsapp/{channel_id}"
PARTNER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
OIDC_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
MODES = ("demo", "live")
# Where every process listens unless CONSOLE_BIND_ADDRESS says otherwise, in either mode.
DEFAULT_BIND_ADDRESS = "127.0.0.1"
# What each process is; in live mode each checks only what its own work needs.
ROLES = ("console", "receiver", "sandbox", "scheduler", "accounts", "key_health")
# How long a sign-in lasts at most (CONSOLE_SESSION_HOURS): bounded, so a stolen cookie does not last forever.
MAX_SESSION_HOURS = 24 * 30
# Any of these present means a live console is being set up: the mode is then never guessed as demo.
# Where alerts go when CONSOLE_ALERT_URLS is unset in demo mode: the hub's inbox, through apprise's JSON target.
DEMO_ALERT_INBOX_PATH = "/sandbox/inbox"
# Between two apprise URLs: commas or whitespace, but only before the next scheme (a URL may hold commas itself,
# such as several e-mail recipients).
ALERT_URL_SEPARATOR = re.compile(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")
ALERT_URL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
ALERTS_OFF = "off"
LIVE_SETTINGS = (
    "D360_PARTNER_ID",
    "D360_PARTNER_API_KEY",
    "D360_USERNAME",
    "D360_PASSWORD",
    "CONSOLE_PASSWORD_HASH",
    "CONSOLE_ENCRYPTION_KEY",
    "D360_PLATFORM_SECRET",
)


@dataclass(frozen=True)
class AlertSettings:
    """What the scheduler alerts on and where it sends alerts (services/alerts). Each rule can be turned off;
    the thresholds are in minutes, hours or requests as named. No destination means no alerts at all."""

    # apprise URLs; secrets (tokens, passwords) live inside them, so never printed whole.
    urls: tuple[str, ...] = field(default=(), repr=False)
    check_seconds: float = 30.0
    digest_minutes: float = 0.0
    max_per_hour: int = 20
    retry_seconds: float = 30.0
    max_attempts: int = 8
    quality_drop: bool = True
    limit_drop: bool = True
    template: bool = True
    left_running: bool = True
    stuck: bool = True
    stuck_minutes: float = 60.0
    no_key: bool = True
    no_key_minutes: float = 60.0
    revoked: bool = True
    permission_changed: bool = True
    account: bool = True
    key_chain: bool = True
    rejections: bool = True
    rejections_count: int = 20
    rejections_minutes: float = 10.0
    heartbeat: bool = True
    heartbeat_hours: float = 6.0
    sync_failed: bool = True
    key_stopped: bool = True

    @property
    def enabled(self) -> bool:
        return bool(self.urls)


# -- key health (services.keys.health) ------------------------------------------------------------------------
# Demo mode checks keys every minute so that a demo shows a stopped key; live mode hourly.
KEY_HEALTH_DEMO_MINUTES = 1.0
KEY_HEALTH_LIVE_MINUTES = 60.0


@dataclass(frozen=True)
class KeyHealthSettings:
    """How often every active key's health_status is asked (CONSOLE_KEY_HEALTH_MINUTES, 0: never), at most how many
    checks one round makes (CONSOLE_KEY_HEALTH_BUDGET), and how often a round looks for keys that are due
    (CONSOLE_KEY_HEALTH_ROUND_SECONDS): each key's check falls at its own point of the interval."""

    minutes: float = KEY_HEALTH_LIVE_MINUTES
    budget: int = 50
    round_seconds: float = 5.0

    @property
    def enabled(self) -> bool:
        return self.minutes > 0


def _key_health_settings(source: _Source, demo_mode: bool) -> KeyHealthSettings:
    default_minutes = KEY_HEALTH_DEMO_MINUTES if demo_mode else KEY_HEALTH_LIVE_MINUTES
    return KeyHealthSettings(
        minutes=source.number("CONSOLE_KEY_HEALTH_MINUTES", default_minutes),
        budget=int(source.number("CONSOLE_KEY_HEALTH_BUDGET", KeyHealthSettings.budget, minimum=1)),
        round_seconds=source.number("CONSOLE_KEY_HEALTH_ROUND_SECONDS", KeyHealthSettings.round_seconds, minimum=0.1),
    )


@dataclass(frozen=True)
class AccessSettings:
    """Who may sign in and with which role (services/accounts): CONSOLE_ALLOWED_EMAILS, CONSOLE_ALLOWED_DOMAINS,
    CONSOLE_ROLES, CONSOLE_DEFAULT_ROLE, CONSOLE_ROLE_CLAIM, CONSOLE_SESSION_HOURS. Lower case throughout."""

    allowed_emails: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    # (e-mail or domain, role) pairs; an e-mail's own pair wins over its domain's.
    role_map: tuple[tuple[str, str], ...] = ()
    default_role: str = "viewer"
    # An identity-provider claim that names the role; when set it decides, and role_map is empty.
    role_claim: str | None = None
    session_hours: float = 12.0


@dataclass(frozen=True)
class RedirectLimits:
    """What strangers' redirects may cost: the landing page stores at most this many, and the scheduler asks
    360dialog about at most `confirmations_per_run` of them a run (services.onboarding)."""

    # Stored and never applied or dismissed, from one source address, and from all of them.
    per_source: int = 50
    total: int = 1000
    # New redirects one browser session may store (Streamlit reruns a page over its websocket, unseen by a proxy).
    per_session: int = 5
    confirmations_per_run: int = 20
    # How often the scheduler looks for redirects waiting for 360dialog between syncs (one query when none).
    check_seconds: float = 5.0


@dataclass(frozen=True)
class LandingTexts:
    """The partner's words to a client on the public landing page, one per outcome of the redirect's query
    (CONSOLE_LANDING_TEXT_*). `{partner}` stands for CONSOLE_PARTNER_NAME."""

    completed: str = (
        "Thank you. Your WhatsApp Business number is on its way to {partner}, who will be in touch about the "
        "next steps. You can close this page."
    )
    cancelled: str = (
        "The onboarding was cancelled before it finished, so no number was shared with {partner}. To connect "
        "your number, open the link you were sent again, or ask {partner} for a new one."
    )
    nothing_shared: str = (
        "The onboarding ended without sharing a WhatsApp Business number with {partner}. To connect one, open "
        "the link again and choose the number to share, or ask {partner} for help."
    )
    unreadable: str = (
        "This page did not receive what it expected, so it cannot tell how your onboarding went. If you were "
        "connecting a WhatsApp number, please contact {partner}."
    )


@dataclass(frozen=True)
class Settings:
    mode: str
    partner_id: str
    partner_api_key: str | None = field(repr=False)
    username: str | None
    password: str | None = field(repr=False)
    platform_secret: str = field(repr=False)
    api_base_url: str
    hub_url: str
    hub_env: str
    hub_version: str
    io_signature_enabled: bool
    io_signature_encoding: str
    data_dir: Path
    public_url: str
    receiver_url: str
    sandbox_url: str
    sandbox_running_delay_seconds: float
    sandbox_direct_paid: bool
    encryption_key: str = field(repr=False)
    receiver_max_body_bytes: int
    receiver_auth_header_name: str | None
    receiver_auth_header_value: str | None = field(repr=False)
    http_timeout_seconds: float
    password_hash: str | None = field(default=None, repr=False)
    oidc_configured: bool = False
    oidc_provider: str | None = None
    bind_address: str = DEFAULT_BIND_ADDRESS
    log_level: str = "INFO"
    secrets_path: Path = DEFAULT_SECRETS_PATH
    direct_paid: bool = False
    stuck_after_minutes: float = 60.0
    # How often the scheduler syncs with the Partner API; 0 turns automatic sync off.
    sync_minutes: float = 15.0
    receiver_db_timeout_seconds: float = 3.0
    receiver_body_timeout_seconds: float = 10.0
    receiver_verify_signature: bool = True
    # The sandbox hub's legacy login (POST /token): this username, and the demo partner API key as password.
    sandbox_username: str = "demo"
    sandbox_token_lifetime_seconds: float = 3600.0
    sandbox_send_twice: bool = False
    sandbox_out_of_order: bool = False
    # What a client who finished onboarding sees on the public landing page.
    partner_display_name: str = "the team that sent you the link"
    landing_continue_url: str | None = None
    landing_texts: LandingTexts = field(default_factory=LandingTexts)
    # Live mode: the hub links are built for when D360_HUB_URL is set (else D360_HUB_ENV's named hub).
    link_hub_url: str | None = None
    # Where each number's inbound messages go once its key is made (a URL template), and the headers sent.
    # May hold a token (query or credentials): never printed; shown and stored only through redacted_url.
    messaging_webhook_url: str | None = field(default=None, repr=False)
    messaging_webhook_headers: dict[str, str] = field(default_factory=dict, repr=False, hash=False)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    # Proxies whose X-Forwarded-For is read (services.addresses); none by default.
    trusted_proxies: tuple[Network, ...] = ()
    # Hosts a key's Messaging API address may name (shell-style patterns); loopback is added in demo mode.
    messaging_api_hosts: tuple[str, ...] = ("*.360dialog.io",)
    access: AccessSettings = field(default_factory=AccessSettings)
    redirect_limits: RedirectLimits = field(default_factory=RedirectLimits)
    # How long a link handed out keeps working (CONSOLE_LINK_DAYS); with IO Signature each click is signed afresh.
    link_days: float = 14.0
    key_health: KeyHealthSettings = field(default_factory=KeyHealthSettings)
    # Where a phone number typed without its country code is from (a search for "600111222").
    phone_region: str = DEFAULT_REGION

    @property
    def demo_mode(self) -> bool:
        return self.mode == "demo"

    @property
    def console_db_path(self) -> Path:
        return self.data_dir / "console.db"

    @property
    def sandbox_db_path(self) -> Path:
        return self.data_dir / "sandbox.db"

    @property
    def landing_url(self) -> str:
        return f"{self.public_url}/landing"

    @property
    def webhook_url(self) -> str:
        return f"{self.receiver_url}/webhooks/360dialog"

    @property
    def login_required(self) -> bool:
        return not self.demo_mode

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level)


def _read_secrets_file(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path.name} is not valid TOML: {error}") from None


def _flat(data: Mapping[str, object]) -> dict[str, object]:
    # Nested tables belong to Streamlit itself (for example [auth] for st.login).
    return {key: value for key, value in data.items() if not isinstance(value, dict)}


def oidc_provider(auth: object) -> tuple[bool, str | None]:
    """Whether `[auth]` configures st.login, and the provider name to pass it (None: the default one).

    Streamlit needs redirect_uri and cookie_secret in [auth], and client_id, client_secret and
    server_metadata_url either in [auth] itself or in one [auth.<provider>] table.
    """
    if not isinstance(auth, dict) or not auth.get("redirect_uri") or not auth.get("cookie_secret"):
        return False, None
    if all(auth.get(key) for key in OIDC_PROVIDER_KEYS):
        return True, None
    for name, table in auth.items():
        if isinstance(table, dict) and all(table.get(key) for key in OIDC_PROVIDER_KEYS):
            return True, name
    return False, None


class _Source:
    """Looks a key up in the environment first, then in secrets.toml."""

    def __init__(self, env: Mapping[str, str], file_values: Mapping[str, object]) -> None:
        self._env = env
        self._file = file_values

    def text(self, key: str, default: str | None = None) -> str | None:
        if key in self._env and self._env[key] != "":
            return self._env[key].strip()
        value = self._file.get(key)
        if value is None or value == "":
            return default
        return str(value).strip()

    def flag(self, key: str, default: bool) -> bool:
        raw = self.text(key)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{key} must be true or false")

    def number(self, key: str, default: float, *, minimum: float = 0) -> float:
        raw = self.text(key)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{key} must be a number") from None
        if value < minimum:
            raise SettingsError(f"{key} must be at least {minimum}")
        return value

    def url(self, key: str, default: str) -> str:
        value = self.text(key, default) or default
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise SettingsError(f"{key} must be an http(s) URL")
        return value.rstrip("/")

    def optional_url(self, key: str) -> str | None:
        return self.url(key, "") if self.text(key) else None

    def choice(self, key: str, default: str, choices: set[str]) -> str:
        value = self.text(key, default) or default
        if value not in choices:
            raise SettingsError(f"{key} must be one of {', '.join(sorted(choices))}")
        return value


def alert_urls(raw: str | None) -> tuple[str, ...]:
    """CONSOLE_ALERT_URLS: one or more apprise URLs, separated by commas or whitespace; "off" for none.

    Only the shape is checked here (every process reads settings, and apprise is the scheduler's and the
    console's alone); services.alerts checks at start that apprise can use each one."""
    if not raw or raw.strip().lower() == ALERTS_OFF:
        return ()
    urls = tuple(part.strip().rstrip(",").strip() for part in ALERT_URL_SEPARATOR.split(raw.strip()))
    for position, url in enumerate(urls, start=1):
        if not ALERT_URL_PATTERN.match(url):
            raise SettingsError(f"CONSOLE_ALERT_URLS: item {position} is not a URL of the form scheme://...")
    return urls


def demo_alert_url(sandbox_url: str) -> str:
    """apprise's JSON target (json://, or jsons:// over https) at the sandbox hub's inbox."""
    parts = urlsplit(sandbox_url)
    scheme = "jsons" if parts.scheme == "https" else "json"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}{DEMO_ALERT_INBOX_PATH}"


def _alert_settings(source: _Source, *, default_urls: str | None, stuck_minutes: float) -> AlertSettings:
    return AlertSettings(
        urls=alert_urls(source.text("CONSOLE_ALERT_URLS", default_urls)),
        check_seconds=source.number("CONSOLE_ALERT_CHECK_SECONDS", 30.0, minimum=0.1),
        digest_minutes=source.number("CONSOLE_ALERT_DIGEST_MINUTES", 0.0),
        max_per_hour=int(source.number("CONSOLE_ALERT_MAX_PER_HOUR", 20, minimum=1)),
        retry_seconds=source.number("CONSOLE_ALERT_RETRY_SECONDS", 30.0, minimum=0.01),
        max_attempts=int(source.number("CONSOLE_ALERT_MAX_ATTEMPTS", 8, minimum=1)),
        quality_drop=source.flag("CONSOLE_ALERT_QUALITY_DROP", True),
        limit_drop=source.flag("CONSOLE_ALERT_LIMIT_DROP", True),
        template=source.flag("CONSOLE_ALERT_TEMPLATE", True),
        left_running=source.flag("CONSOLE_ALERT_LEFT_RUNNING", True),
        stuck=source.flag("CONSOLE_ALERT_STUCK", True),
        stuck_minutes=source.number("CONSOLE_ALERT_STUCK_MINUTES", stuck_minutes, minimum=0.01),
        no_key=source.flag("CONSOLE_ALERT_NO_KEY", True),
        no_key_minutes=source.number("CONSOLE_ALERT_NO_KEY_MINUTES", 60.0),
        revoked=source.flag("CONSOLE_ALERT_REVOKED", True),
        permission_changed=source.flag("CONSOLE_ALERT_PERMISSION_CHANGED", True),
        account=source.flag("CONSOLE_ALERT_ACCOUNT", True),
        key_chain=source.flag("CONSOLE_ALERT_KEY_CHAIN", True),
        rejections=source.flag("CONSOLE_ALERT_REJECTIONS", True),
        rejections_count=int(source.number("CONSOLE_ALERT_REJECTIONS_COUNT", 20)),
        rejections_minutes=source.number("CONSOLE_ALERT_REJECTIONS_MINUTES", 10.0, minimum=0.01),
        heartbeat=source.flag("CONSOLE_ALERT_HEARTBEAT", True),
        heartbeat_hours=source.number("CONSOLE_ALERT_HEARTBEAT_HOURS", 6.0, minimum=0.01),
        sync_failed=source.flag("CONSOLE_ALERT_SYNC_FAILED", True),
        key_stopped=source.flag("CONSOLE_ALERT_KEY_STOPPED", True),
    )


def _trusted_proxies(source: _Source) -> tuple[Network, ...]:
    try:
        return parse_trusted_proxies(source.text("CONSOLE_TRUSTED_PROXIES"))
    except InvalidProxyList as error:
        raise SettingsError(f"CONSOLE_TRUSTED_PROXIES: {error}") from None


def _landing_texts(source: _Source) -> LandingTexts:
    defaults = LandingTexts()
    return LandingTexts(
        completed=source.text("CONSOLE_LANDING_TEXT_COMPLETED") or defaults.completed,
        cancelled=source.text("CONSOLE_LANDING_TEXT_CANCELLED") or defaults.cancelled,
        nothing_shared=source.text("CONSOLE_LANDING_TEXT_NOTHING_SHARED") or defaults.nothing_shared,
        unreadable=source.text("CONSOLE_LANDING_TEXT_UNREADABLE") or defaults.unreadable,
    )


def _link_hub_url(source: _Source, demo_mode: bool) -> str | None:
    """D360_HUB_URL when given in live mode: the host every link is built for, instead of D360_HUB_ENV's named
    hub. Demo mode offers every hub on the Connect page, the sandbox first."""
    if demo_mode or not source.text("D360_HUB_URL"):
        return None
    return source.url("D360_HUB_URL", "")


def _messaging_api_hosts(source: _Source, demo_mode: bool) -> tuple[str, ...]:
    raw = source.text("CONSOLE_MESSAGING_API_HOSTS", "*.360dialog.io") or ""
    hosts = check_messaging_api_hosts(tuple(host.lower() for host in raw.replace(",", " ").split()))
    return (*hosts, "127.0.0.1", "localhost", "::1") if demo_mode else hosts


def _access_settings(source: _Source) -> AccessSettings:
    role_map = check_role_map(source.text("CONSOLE_ROLES"))
    role_claim = check_claim_name(source.text("CONSOLE_ROLE_CLAIM"))
    check_role_source(role_claim, role_map)
    session_hours = source.number("CONSOLE_SESSION_HOURS", 12.0, minimum=0.01)
    if session_hours > MAX_SESSION_HOURS:
        raise SettingsError(f"CONSOLE_SESSION_HOURS must be at most {MAX_SESSION_HOURS}")
    return AccessSettings(
        allowed_emails=check_allowed_emails(source.text("CONSOLE_ALLOWED_EMAILS")),
        allowed_domains=check_allowed_domains(source.text("CONSOLE_ALLOWED_DOMAINS")),
        role_map=role_map,
        default_role=check_access_role("CONSOLE_DEFAULT_ROLE", source.text("CONSOLE_DEFAULT_ROLE", "viewer") or ""),
        role_claim=role_claim,
        session_hours=session_hours,
    )


def load_demo_secrets(data_dir: Path) -> dict[str, str]:
    """Create the demo secrets once (atomically, all processes may race here) and return them."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / DEMO_SECRETS_FILE
    fresh = {
        "partner_api_key": secrets.token_urlsafe(32),
        "platform_secret": secrets.token_urlsafe(32),
        "encryption_key": Fernet.generate_key().decode(),
    }
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(fresh, handle)
            handle.flush()
            os.fsync(handle.fileno())
    for _ in range(50):
        try:
            stored = json.loads(path.read_text())
        except (json.JSONDecodeError, FileNotFoundError):
            # Another process is between creating and filling the file.
            time.sleep(0.05)
            continue
        return {**fresh, **stored}
    raise SettingsError(f"{DEMO_SECRETS_FILE} in CONSOLE_DATA_DIR is unreadable; delete it to regenerate")


def _mode(source: _Source, auth_table: object) -> str:
    explicit = source.text("CONSOLE_MODE")
    if explicit is not None:
        if explicit.lower() not in MODES:
            raise SettingsError(f"CONSOLE_MODE must be one of {', '.join(MODES)}")
        return explicit.lower()
    present = [key for key in LIVE_SETTINGS if source.text(key)]
    return "live" if present or isinstance(auth_table, dict) else "demo"


def _redirect_limits(source: _Source) -> RedirectLimits:
    return RedirectLimits(
        per_source=int(source.number("CONSOLE_REDIRECTS_PER_SOURCE", RedirectLimits.per_source, minimum=1)),
        total=int(source.number("CONSOLE_REDIRECTS_TOTAL", RedirectLimits.total, minimum=1)),
        per_session=int(source.number("CONSOLE_LANDING_REDIRECTS_PER_SESSION", RedirectLimits.per_session, minimum=1)),
        confirmations_per_run=int(
            source.number("CONSOLE_REDIRECT_CONFIRMATIONS_PER_RUN", RedirectLimits.confirmations_per_run, minimum=0)
        ),
        check_seconds=source.number("CONSOLE_REDIRECT_CHECK_SECONDS", RedirectLimits.check_seconds, minimum=1),
    )


def _phone_region(source: _Source) -> str:
    """CONSOLE_PHONE_REGION: a region code phonenumbers knows (DE by default)."""
    try:
        return check_region(source.text("CONSOLE_PHONE_REGION", DEFAULT_REGION) or DEFAULT_REGION)
    except ValueError as error:
        raise SettingsError(str(error)) from None


def load_settings(
    env: Mapping[str, str] | None = None, secrets_path: Path | None = None, *, role: str = "console"
) -> Settings:
    """Read, validate and return the settings for one process; raise SettingsError naming what is wrong.

    In live mode the error names every setting the role misses, not just the first."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    environment = os.environ if env is None else env
    file_path = secrets_path or Path(environment.get("CONSOLE_SECRETS_FILE", DEFAULT_SECRETS_PATH))
    file_values = _read_secrets_file(Path(file_path))
    source = _Source(environment, _flat(file_values))
    oidc_configured, oidc_provider_name = oidc_provider(file_values.get("auth"))
    mode = _mode(source, file_values.get("auth"))
    demo_mode = mode == "demo"

    data_dir = Path(source.text("CONSOLE_DATA_DIR", str(PROJECT_ROOT / "data")) or "data")
    if not data_dir.is_absolute():
        data_dir = PROJECT_ROOT / data_dir
    api_key = source.text("D360_PARTNER_API_KEY")
    username = source.text("D360_USERNAME")
    password = source.text("D360_PASSWORD")
    if bool(username) != bool(password):
        raise SettingsError("D360_USERNAME and D360_PASSWORD must be set together")

    sandbox_url = source.url("SANDBOX_URL", "http://127.0.0.1:8503")
    public_url = source.url("CONSOLE_PUBLIC_URL", "http://localhost:8501")
    receiver_url = source.url("CONSOLE_RECEIVER_URL", "http://127.0.0.1:8502")
    io_signature_enabled = source.flag("D360_IO_SIGNATURE", demo_mode)
    auth_header_name = source.text("RECEIVER_AUTH_HEADER_NAME")
    auth_header_value = source.text("RECEIVER_AUTH_HEADER_VALUE")
    if bool(auth_header_name) != bool(auth_header_value):
        raise SettingsError("RECEIVER_AUTH_HEADER_NAME and RECEIVER_AUTH_HEADER_VALUE must be set together")
    verify_signature = source.flag("RECEIVER_VERIFY_SIGNATURE", True)
    if not verify_signature and not auth_header_name:
        raise SettingsError("RECEIVER_VERIFY_SIGNATURE may be off only with RECEIVER_AUTH_HEADER_NAME/VALUE set")
    password_hash = check_password_hash(source.text("CONSOLE_PASSWORD_HASH"))
    access = _access_settings(source)

    if demo_mode:
        demo = load_demo_secrets(data_dir)
        partner_id = source.text("D360_PARTNER_ID", DEMO_PARTNER_ID) or DEMO_PARTNER_ID
        api_key, username, password = demo["partner_api_key"], None, None
        platform_secret = source.text("D360_PLATFORM_SECRET") or demo["platform_secret"]
        encryption_key = check_encryption_key(source.text("CONSOLE_ENCRYPTION_KEY") or demo["encryption_key"])
        api_base_default = f"{sandbox_url}/api/v2"
        hub_default = f"{sandbox_url}/dashboard/app"
        env_default = "sandbox"
    else:
        partner_id = source.text("D360_PARTNER_ID") or ""
        platform_secret = source.text("D360_PLATFORM_SECRET") or ""
        encryption_key = source.text("CONSOLE_ENCRYPTION_KEY") or ""
        api_base_default = "https://hub.360dialog.io/api/v2"
        hub_default = "https://hub.360dialog.com/dashboard/app"
        env_default = "prod"
    api_base_url = source.url("D360_API_BASE_URL", api_base_default)

    if not demo_mode:
        problems: list[str] = []
        if role == "console":
            collect(problems, lambda: require_id("D360_PARTNER_ID", partner_id))
            collect(problems, lambda: require_partner_credentials(api_key, username))
            collect(problems, lambda: require_strong_fernet_key(require_encryption_key(encryption_key)))
            collect(problems, lambda: require_sign_in(oidc_configured, file_values.get("auth")))
            collect(
                problems,
                lambda: require_team_allowlist(oidc_configured, access.allowed_emails, access.allowed_domains),
            )
            collect(problems, lambda: require_https("D360_API_BASE_URL", api_base_url))
            if io_signature_enabled:
                collect(problems, lambda: require_strong("D360_PLATFORM_SECRET", platform_secret))
        elif role == "receiver":
            if verify_signature:
                collect(problems, lambda: require_strong("D360_PLATFORM_SECRET", platform_secret))
            # The process the internet reaches holds no Partner API credentials, whatever the file says.
            api_key = username = password = None
        elif role == "scheduler":
            collect(problems, lambda: require_id("D360_PARTNER_ID", partner_id))
            collect(problems, lambda: require_partner_credentials(api_key, username))
            collect(problems, lambda: require_https("D360_API_BASE_URL", api_base_url))
            # It only calls the Partner API: it holds neither the Platform Secret nor the key-encryption key.
            platform_secret = encryption_key = ""
        elif role == "key_health":
            collect(problems, lambda: require_strong_fernet_key(require_encryption_key(encryption_key)))
        if auth_header_value:
            collect(problems, lambda: require_strong("RECEIVER_AUTH_HEADER_VALUE", auth_header_value))
        if problems:
            raise SettingsError(f"live mode: the {role} cannot start: " + "; ".join(problems))

    if role == "key_health":
        # It only opens stored keys to ask 360dialog about them: no Partner API credentials, no Platform Secret.
        api_key = username = password = None
        platform_secret = ""
    if partner_id and not PARTNER_ID_PATTERN.match(partner_id):
        raise SettingsError("D360_PARTNER_ID may hold only letters, digits, '-' and '_'")
    # Every process listens on this machine only unless told otherwise: in live mode the TLS proxy in front
    # is what the internet reaches (docs/deployment.md).
    bind_address = check_bind_address(source.text("CONSOLE_BIND_ADDRESS", DEFAULT_BIND_ADDRESS) or DEFAULT_BIND_ADDRESS)
    if demo_mode and not is_loopback(bind_address):
        raise SettingsError(
            "CONSOLE_BIND_ADDRESS: demo mode listens on loopback only (no sign-in, demo secrets); "
            "set CONSOLE_MODE=live with its settings to listen beyond this machine"
        )
    stuck_after_minutes = source.number("CONSOLE_STUCK_AFTER_MINUTES", 60.0, minimum=1)
    alerts = _alert_settings(
        source, default_urls=demo_alert_url(sandbox_url) if demo_mode else None, stuck_minutes=stuck_after_minutes
    )
    if role in ("receiver", "sandbox", "accounts", "key_health"):
        # Alert destinations are the scheduler's and the console's: the other processes never hold them.
        alerts = replace(alerts, urls=())
    log_level = (source.text("CONSOLE_LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise SettingsError(f"CONSOLE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")

    settings = Settings(
        mode=mode,
        partner_id=partner_id,
        partner_api_key=api_key,
        username=username,
        password=password,
        platform_secret=platform_secret,
        api_base_url=api_base_url,
        hub_url=source.url("D360_HUB_URL", hub_default),
        hub_env=source.choice("D360_HUB_ENV", env_default, {"prod", "staging", "rc", "local", "sandbox"}),
        hub_version=source.choice("D360_HUB_VERSION", "v1", {"v1", "v2"}),
        io_signature_enabled=io_signature_enabled,
        io_signature_encoding=source.choice("D360_IO_SIGNATURE_ENCODING", "hex", {"hex", "base64"}),
        data_dir=data_dir,
        public_url=public_url,
        receiver_url=receiver_url,
        sandbox_url=sandbox_url,
        sandbox_running_delay_seconds=source.number("SANDBOX_RUNNING_DELAY_SECONDS", 4.0),
        sandbox_direct_paid=source.flag("SANDBOX_DIRECT_PAID", False),
        encryption_key=encryption_key,
        receiver_max_body_bytes=int(source.number("RECEIVER_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)),
        receiver_auth_header_name=auth_header_name,
        receiver_auth_header_value=auth_header_value,
        http_timeout_seconds=source.number("D360_HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        password_hash=password_hash,
        oidc_configured=oidc_configured,
        oidc_provider=oidc_provider_name,
        bind_address=bind_address,
        log_level=log_level,
        secrets_path=Path(file_path),
        direct_paid=source.flag("D360_DIRECT_PAID", False),
        stuck_after_minutes=stuck_after_minutes,
        sync_minutes=source.number("CONSOLE_SYNC_MINUTES", 15.0, minimum=0),
        receiver_db_timeout_seconds=source.number("RECEIVER_DB_TIMEOUT_SECONDS", 3.0, minimum=0.1),
        receiver_body_timeout_seconds=source.number("RECEIVER_BODY_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        receiver_verify_signature=verify_signature,
        sandbox_username=source.text("SANDBOX_USERNAME", "demo") or "demo",
        sandbox_token_lifetime_seconds=source.number("SANDBOX_TOKEN_LIFETIME_SECONDS", 3600.0, minimum=1),
        sandbox_send_twice=source.flag("SANDBOX_SEND_TWICE", False),
        sandbox_out_of_order=source.flag("SANDBOX_OUT_OF_ORDER", False),
        partner_display_name=source.text("CONSOLE_PARTNER_NAME") or Settings.partner_display_name,
        landing_continue_url=source.url("CONSOLE_LANDING_CONTINUE_URL", "")
        if source.text("CONSOLE_LANDING_CONTINUE_URL")
        else None,
        landing_texts=_landing_texts(source),
        link_hub_url=_link_hub_url(source, demo_mode),
        messaging_webhook_url=check_messaging_webhook_template(
            source.text("CONSOLE_MESSAGING_WEBHOOK_URL", DEMO_MESSAGING_WEBHOOK_URL if demo_mode else None)
        ),
        messaging_webhook_headers=check_messaging_webhook_headers(source.text("CONSOLE_MESSAGING_WEBHOOK_HEADERS")),
        alerts=alerts,
        trusted_proxies=_trusted_proxies(source),
        messaging_api_hosts=_messaging_api_hosts(source, demo_mode),
        redirect_limits=_redirect_limits(source),
        access=access,
        link_days=source.number("CONSOLE_LINK_DAYS", Settings.link_days, minimum=1),
        key_health=_key_health_settings(source, demo_mode),
        phone_region=_phone_region(source),
    )
    return _without_secrets(settings) if role == "accounts" else settings


def _without_secrets(settings: Settings) -> Settings:
    """`python -m services.accounts` only reaches the accounts in the console database: it needs no secret, so it
    runs before the first account exists, and holds none."""
    return replace(
        settings,
        partner_api_key=None,
        username=None,
        password=None,
        platform_secret="",
        encryption_key="",
        receiver_auth_header_value=None,
        password_hash=None,
        messaging_webhook_url=None,
        messaging_webhook_headers={},
    )
