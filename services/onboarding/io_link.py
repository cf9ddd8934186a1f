"""The Integrated Onboarding link: where a client is sent to connect a number (contract section 1)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

HUB_TEMPLATES: dict[str, dict[str, str]] = {
    # The documented custom-IO entry ends in /permissions; the official button 1.0.2 leaves it off for v1.
    "prod": {
        "v1": "https://hub.360dialog.com/dashboard/app/{partner_id}/permissions",
        "v2": "https://app.360dialog.com/onboarding/{partner_id}",
    },
    "staging": {
        "v1": "https://admin.hub-staging.360dialog.io/dashboard/app/{partner_id}/permissions",
        "v2": "https://staging-app.360dialog.com/onboarding/{partner_id}",
    },
    "rc": {
        "v1": "https://rc-admin.360dialog.io/dashboard/app/{partner_id}/permissions",
        "v2": "https://rc-app.360dialog.com/onboarding/{partner_id}",
    },
    "local": {
        "v1": "http://localhost:8082/dashboard/app/{partner_id}/permissions",
        "v2": "http://localhost:8082/onboarding/{partner_id}",
    },
}

# Environments that need a host given by the caller (`hub_url`, a `.../dashboard/app` base).
CUSTOM_HOST_ENVIRONMENTS: frozenset[str] = frozenset({"sandbox"})
ENVIRONMENTS: tuple[str, ...] = (*HUB_TEMPLATES, *sorted(CUSTOM_HOST_ENVIRONMENTS))
VERSIONS: tuple[str, ...] = ("v1", "v2")

# Every query parameter the hub is documented to accept, in the order the form offers them.
HUB_PARAMETERS: tuple[str, ...] = (
    "number",
    "redirect_url",
    "state",
    "email",
    "name",
    "partner",
    "next",
    "plan_selection",
    "lang",
    "hosting_type",
    "connect_client_user",
    "client_id",
    "flow",
    "preverified_phone_number_id",
    "io_signature",
    "io_timestamp",
)

# encodeURIComponent leaves exactly these unescaped besides ASCII letters and digits.
URI_COMPONENT_SAFE = "-_.!~*'()"


class InvalidLinkParameter(ValueError):
    """A parameter the hub does not accept, or a value the link cannot carry; the message names it."""


def encode_uri_component(value: str) -> str:
    """JavaScript's encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is escaped, as UTF-8."""
    try:
        return quote(value, safe=URI_COMPONENT_SAFE, encoding="utf-8", errors="strict")
    except UnicodeEncodeError:
        # encodeURIComponent throws URIError on a lone surrogate; so do we, by name.
        raise InvalidLinkParameter("a value holds text that cannot be encoded (a lone surrogate)") from None


def _text(value: str | int | bool) -> str:
    """A value as JavaScript's String() would write it: booleans lowercase."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def hub_base(partner_id: str, *, env: str = "prod", version: str = "v1", hub_url: str | None = None) -> str:
    """The link without its query. `hub_url` (a `.../dashboard/app` base) replaces the known hosts."""
    if not partner_id or encode_uri_component(partner_id) != partner_id:
        raise InvalidLinkParameter("partner_id may hold only letters, digits and - _ . ! ~ * ' ( )")
    if version not in VERSIONS:
        raise InvalidLinkParameter(f"unknown hub version {version!r}; expected one of {', '.join(VERSIONS)}")
    if hub_url is None and env in CUSTOM_HOST_ENVIRONMENTS:
        raise InvalidLinkParameter(f"the {env} environment needs hub_url (its .../dashboard/app address)")
    if hub_url is not None:
        parts = urlsplit(hub_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
            raise InvalidLinkParameter("hub_url must be an http(s) address without query or fragment")
        root = hub_url.rstrip("/")
        if version == "v2":
            return f"{root.removesuffix('/dashboard/app')}/onboarding/{partner_id}"
        return f"{root}/{partner_id}/permissions"
    try:
        template = HUB_TEMPLATES[env][version]
    except KeyError:
        raise InvalidLinkParameter(
            f"unknown hub environment {env!r}; expected one of {', '.join(ENVIRONMENTS)}"
        ) from None
    return template.format(partner_id=partner_id)


def _check_redirect_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidLinkParameter("redirect_url must be an absolute http(s) URL")


def build_io_link(
    partner_id: str,
    *,
    env: str = "prod",
    version: str = "v1",
    number: str | None = None,
    hub_url: str | None = None,
    **params: str | int | bool | None,
) -> str:
    """Build the IO link: `number` first (encoded, unlike the official button), then the rest in order given.

    Values are encoded like encodeURIComponent. None and "" are left out, as the official button leaves out
    options it was not given. `env` and `version` choose the host and path; neither is a URL parameter.
    """
    unknown = sorted(set(params) - set(HUB_PARAMETERS))
    if unknown:
        raise InvalidLinkParameter(f"the hub does not accept the parameter(s): {', '.join(unknown)}")
    ordered = [("number", number), *params.items()]
    present = [(name, _text(value)) for name, value in ordered if value is not None and _text(value) != ""]
    for name, value in present:
        if name == "redirect_url":
            _check_redirect_url(value)
    base = hub_base(partner_id, env=env, version=version, hub_url=hub_url)
    query = "&".join(f"{name}={encode_uri_component(value)}" for name, value in present)
    return f"{base}?{query}" if query else base
