"""The Integrated Onboarding link: where a client is sent to connect a number (contract section 1)."""

from __future__ import annotations

from urllib.parse import quote

HUB_TEMPLATES: dict[str, dict[str, str]] = {
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

# Every query parameter the hub is documented to accept, in the order the link writes them.
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


class InvalidLinkParameter(ValueError):
    """A parameter the hub does not accept, or a partner id it cannot hold."""


def encode_uri_component(value: str) -> str:
    """JavaScript's encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is escaped."""
    return quote(value, safe="-_.!~*'()")


def hub_base(partner_id: str, *, env: str = "prod", version: str = "v1", hub_url: str | None = None) -> str:
    """The link without its query. `hub_url` (a `.../dashboard/app` base) replaces the known hosts."""
    if not partner_id or encode_uri_component(partner_id) != partner_id:
        raise InvalidLinkParameter("partner_id may hold only letters, digits and - _ . ! ~ * ' ( )")
    if hub_url is not None:
        root = hub_url.rstrip("/")
        if version == "v2":
            return f"{root.removesuffix('/dashboard/app')}/onboarding/{partner_id}"
        return f"{root}/{partner_id}/permissions"
    try:
        template = HUB_TEMPLATES[env][version]
    except KeyError:
        raise InvalidLinkParameter(f"unknown hub environment {env!r} or version {version!r}") from None
    return template.format(partner_id=partner_id)


def build_io_link(
    partner_id: str,
    *,
    env: str = "prod",
    version: str = "v1",
    number: str | None = None,
    hub_url: str | None = None,
    **params: str | int | None,
) -> str:
    """Build the IO link: `number` first (encoded, unlike the official button), then the rest in order given.

    Empty values are left out, as the official button leaves out options it was not given.
    """
    unknown = sorted(set(params) - set(HUB_PARAMETERS))
    if unknown:
        raise InvalidLinkParameter(f"the hub does not accept the parameter(s): {', '.join(unknown)}")
    ordered = [("number", number), *params.items()]
    pairs = [
        f"{name}={encode_uri_component(str(value))}" for name, value in ordered if value is not None and value != ""
    ]
    base = hub_base(partner_id, env=env, version=version, hub_url=hub_url)
    return f"{base}?{'&'.join(pairs)}" if pairs else base
