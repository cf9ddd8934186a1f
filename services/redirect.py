"""The redirect back from IO: `?client=..&channels=[..]&revoked=[..]` (contract section 2). Untrusted input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_QUERY_LENGTH = 8192


class InvalidRedirect(ValueError):
    """The redirect cannot be read; the message names the parameter and the bad value."""


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
        raise InvalidRedirect(f"{name} holds an id with characters no id uses: {_shown(value)}")
    return value


def parse_id_list(name: str, raw: str) -> tuple[str, ...]:
    """`[a,b]` (brackets optional, spaces allowed) to ids; `[]` and `` are the empty list."""
    text = raw.strip()
    if text.startswith("[") != text.endswith("]") or (text == "[" or text == "]"):
        raise InvalidRedirect(f"{name} has unbalanced brackets: {_shown(raw)}")
    if text.startswith("["):
        text = text[1:-1]
    items = [item.strip() for item in text.split(",")]
    if items == [""]:
        return ()
    if "" in items:
        raise InvalidRedirect(f"{name} has an empty id in {_shown(raw)}")
    seen: dict[str, None] = {}
    for item in items:
        seen[_check_id(name, item)] = None
    return tuple(seen)


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRedirect(f"{name} is given {len(values)} times; expected once")
    return values[0]


def parse_redirect(query: str | Mapping[str, str | list[str]]) -> Redirect:
    """Read a redirect query string (with or without '?') or an already-split mapping such as st.query_params."""
    if isinstance(query, str):
        if len(query) > MAX_QUERY_LENGTH:
            raise InvalidRedirect(f"the query string is too long ({len(query)} characters)")
        params = parse_qs(query.removeprefix("?"), keep_blank_values=True)
    else:
        params = {key: value if isinstance(value, list) else [value] for key, value in query.items()}
    client = _single(params, "client")
    channels = _single(params, "channels")
    if client is None or client.strip() == "":
        raise InvalidRedirect("client is missing")
    if channels is None:
        raise InvalidRedirect("channels is missing")
    revoked = _single(params, "revoked")
    state = _single(params, "state")
    if state is not None:
        state = state.strip() or None
    if state is not None and not STATE_PATTERN.match(state):
        raise InvalidRedirect(f"state has characters no state uses: {_shown(state)}")
    return Redirect(
        client=_check_id("client", client.strip()),
        channels=parse_id_list("channels", channels),
        revoked=parse_id_list("revoked", revoked) if revoked is not None else (),
        state=state,
    )
