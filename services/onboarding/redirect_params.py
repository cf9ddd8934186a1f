"""Reads the redirect back from IO, `?client=..&channels=[..]&revoked=[..]` (contract section 2): untrusted input.

A redirect's walk: `redirect_params` reads the query, `redirect_store` stores it and hands it to
`redirect_decision`, which decides whether it may change anything and applies it when it may.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_STATE_LENGTH = 512
MAX_QUERY_LENGTH = 8192
# The parameters this page reads; any other (a flag added to redirect_url, tracking tags) is ignored.
KNOWN_PARAMETERS = ("client", "channels", "revoked", "state")
# A client who cancels may come back with Meta's OAuth error parameters (`error=access_denied`, with or without
# `error_reason=user_denied`, `error_code`, `error_description`); unconfirmed for 360dialog, so any of them
# means the onboarding did not complete, whatever else the query holds.
CANCEL_PARAMETERS = ("error", "error_reason", "error_code", "error_description")

# What the client's own page says: read from the query alone, the one thing the client's browser brought.
COMPLETED = "completed"
CANCELLED = "cancelled"
NOTHING_SHARED = "nothing shared"
UNREADABLE = "unreadable"


class InvalidRedirect(ValueError):
    """The redirect cannot be read; the message names the parameter and the bad value."""

    def __init__(self, message: str, *, parameter: str | None = None, value: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value


@dataclass(frozen=True)
class Redirect:
    client: str
    channels: tuple[str, ...]
    revoked: tuple[str, ...] = field(default=())
    state: str | None = None


def _shown(value: str) -> str:
    """A bad value quoted for an error message, cut short so a crafted URL cannot flood the page."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


def _check_id(name: str, value: str) -> str:
    if not ID_PATTERN.match(value):
        raise InvalidRedirect(
            f"{name} holds an id with characters no id uses: {_shown(value)}", parameter=name, value=value
        )
    return value


def parse_id_list(name: str, raw: str) -> tuple[str, ...]:
    """`[a,b]` (brackets optional, spaces allowed) to ids in order, duplicates dropped; `[]` and `` are empty.

    The official parser strips the first and last character and splits on commas, so it reads `[]` as one
    empty id; here it is the empty list.
    """
    text = raw.strip()
    opens, closes = text.startswith("["), text.endswith("]")
    if opens != closes or text in {"[", "]"}:
        raise InvalidRedirect(f"{name} has unbalanced brackets: {_shown(raw)}", parameter=name, value=raw)
    if opens:
        text = text[1:-1]
    items = [item.strip() for item in text.split(",")]
    if items == [""]:
        return ()
    if "" in items:
        raise InvalidRedirect(f"{name} has an empty id in {_shown(raw)}", parameter=name, value=raw)
    seen: dict[str, None] = {}
    for item in items:
        seen[_check_id(name, item)] = None
    return tuple(seen)


def _check_state(raw: str) -> str | None:
    """Whether the hub echoes `state` is unconfirmed, so any printable text is kept; it is only compared."""
    state = raw.strip()
    if not state:
        return None
    if len(state) > MAX_STATE_LENGTH:
        raise InvalidRedirect(f"state is too long ({len(state)} characters)", parameter="state", value=raw)
    if any(unicodedata.category(char).startswith("C") for char in state):
        raise InvalidRedirect(f"state holds control characters: {_shown(state)}", parameter="state", value=raw)
    return state


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRedirect(f"{name} is given {len(values)} times; expected once", parameter=name)
    return values[0]


def split_query(query: str | Mapping[str, str | list[str]]) -> dict[str, list[str]]:
    """A query string (with or without '?') or an already-split mapping such as st.query_params, as lists."""
    if isinstance(query, str):
        if len(query) > MAX_QUERY_LENGTH:
            raise InvalidRedirect(f"the query string is too long ({len(query)} characters)")
        return parse_qs(query.removeprefix("?"), keep_blank_values=True)
    return {key: list(value) if isinstance(value, (list, tuple)) else [value] for key, value in query.items()}


def canonical_query(params: Mapping[str, list[str]]) -> str:
    """The query written back the same way every time: a reload of one redirect gives one string.

    Brackets and commas stay raw (as the hub sends them); everything else is percent-encoded.
    """
    return "&".join(
        f"{quote(name, safe='')}={quote(value, safe='[],')}" for name, values in params.items() for value in values
    )


def parse_redirect(query: str | Mapping[str, str | list[str]]) -> Redirect:
    """Read a redirect; raise InvalidRedirect naming the first bad value. Unknown parameters are ignored."""
    params = split_query(query)
    cancel = _cancel_word(params)
    if cancel is not None:
        raise InvalidRedirect(
            f"the client did not finish onboarding: 360dialog sent {cancel}", parameter="error", value=cancel
        )
    client = _single(params, "client")
    channels = _single(params, "channels")
    if client is None or client.strip() == "":
        raise InvalidRedirect("client is missing", parameter="client")
    if channels is None:
        raise InvalidRedirect("channels is missing", parameter="channels")
    revoked_raw = _single(params, "revoked")
    state_raw = _single(params, "state")
    granted = parse_id_list("channels", channels)
    revoked = parse_id_list("revoked", revoked_raw) if revoked_raw is not None else ()
    both = [channel for channel in granted if channel in revoked]
    if both:
        raise InvalidRedirect(
            f"channel {_shown(both[0])} is both granted and revoked", parameter="revoked", value=both[0]
        )
    return Redirect(
        client=_check_id("client", client.strip()),
        channels=granted,
        revoked=revoked,
        state=_check_state(state_raw) if state_raw is not None else None,
    )


def _cancel_word(params: Mapping[str, list[str]]) -> str | None:
    """`name=value` of the first cancel parameter present (shortened), or None."""
    for name in CANCEL_PARAMETERS:
        if name in params:
            values = params[name]
            return f"{name}={_shown(values[0]) if values else ''}"
    return None


def client_outcome(query: str | Mapping[str, str | list[str]]) -> str:
    """What the query itself says about the onboarding, for the client's page: COMPLETED (channels granted),
    CANCELLED (an `error`), NOTHING_SHARED (an empty grant) or UNREADABLE (missing, malformed or forged).

    Only the query counts, never what the console knows: the page must not tell a stranger anything more."""
    try:
        params = split_query(query)
        if _cancel_word(params) is not None:
            return CANCELLED
        redirect = parse_redirect(params)
    except InvalidRedirect:
        return UNREADABLE
    return COMPLETED if redirect.channels else NOTHING_SHARED
