"""The just-generated key: shown once, masked until revealed, each reveal audited."""

from __future__ import annotations

import streamlit as st
from sqlite_utils import Database

from dashboard.plain_text import escape_markdown
from dashboard.times import exact, relative
from dashboard.widgets import refused
from services.accounts import Person
from services.keys.bulk import keys_csv
from services.keys.generation import KeyResult, record_download, record_reveal
from services.keys.health.reading import ChannelKeyHealth
from services.keys.readiness import NOT_RUN, NOT_VERIFIABLE, STEP_LABELS, StepState, first_unfinished_step
from services.messaging_api import redacted_url

MASK = "•" * 24


def remember_new_key(result: KeyResult, label: str) -> None:
    """Held in this browser session only; the database keeps it encrypted and never gives it back."""
    st.session_state["new_key"] = {
        "channel_id": result.channel_id,
        "label": label,
        "api_key": result.api_key,
        "last4": result.last4,
        "address": result.address,
        "revealed": False,
    }


def has_unstored_keys() -> bool:
    """A new key or bulk keys the operator has not yet said are stored: they cannot be read back."""
    return bool(st.session_state.get("new_key") or st.session_state.get("bulk_keys"))


def masked(last4: str) -> str:
    return f"{MASK}{last4}"


def _reveal(db: Database, person: Person) -> None:
    shown = st.session_state["new_key"]
    # Raises NotAllowed for a role that may not see keys, and then the key stays masked.
    record_reveal(db, shown["channel_id"], actor=person, last4=shown["last4"])
    shown["revealed"] = True


def _hide() -> None:
    st.session_state["new_key"]["revealed"] = False


def _forget() -> None:
    st.session_state.pop("new_key", None)


def shown_once_key(db: Database, person: Person) -> None:
    """The new key, where the operator is: masked until revealed, with a copy button, until they say it is
    stored."""
    shown = st.session_state.get("new_key")
    if not shown:
        return
    with st.container(border=True):
        st.success(
            "New API key for "
            + escape_markdown(shown.get("label") or shown["channel_id"])
            + ". It is shown once: reveal it, copy it (copy button on the right of the key) and store it safely."
        )
        if shown["revealed"]:
            st.code(shown["api_key"], language=None)
        else:
            st.code(masked(shown["last4"]), language=None)
        st.text(f"Messaging API address: {redacted_url(shown['address'])}")
        reveal, done = st.columns(2)
        if shown["revealed"]:
            reveal.button("Hide key", on_click=_hide, width="stretch", key="hide-new-key")
        else:
            reason = refused("reveal_key")
            reveal.button(
                "Reveal key",
                on_click=_reveal,
                args=(db, person),
                type="primary",
                width="stretch",
                key="reveal-new-key",
                disabled=reason is not None,
                help=reason,
            )
        if done.button("I have stored it: forget it here", width="stretch", key="forget-new-key"):
            _forget()
            st.rerun()  # the whole page: views held open while the key was unstored can close again


LEAVE_GUARD = """<script>
window.parent.__consoleUnstoredKeys = %s;
if (!window.parent.__consoleLeaveGuard) {
  window.parent.__consoleLeaveGuard = true;
  window.parent.addEventListener("beforeunload", function (event) {
    if (window.parent.__consoleUnstoredKeys) { event.preventDefault(); event.returnValue = ""; }
  });
}
</script>"""


def leave_guard() -> None:
    """The browser asks before the page is left or reloaded while a key shown once is not yet stored."""
    st.html(LEAVE_GUARD % ("true" if has_unstored_keys() else "false"), unsafe_allow_javascript=True)


def remember_bulk_keys(results: list[KeyResult]) -> None:
    """Added to any keys of an earlier run not yet downloaded: a key lost here cannot be read back."""
    st.session_state["bulk_keys"] = [
        *st.session_state.get("bulk_keys", []),
        *(
            {"channel_id": result.channel_id, "api_key": result.api_key, "address": result.address}
            for result in results
        ),
    ]


def _bulk_downloaded(db: Database, person: Person, downloaded: list[dict[str, str]]) -> None:
    record_download(db, actor=person, count=len(downloaded))
    # Only the keys in this file are forgotten: a later run's keys may have joined the list meanwhile.
    remaining = [row for row in st.session_state.get("bulk_keys", []) if row not in downloaded]
    st.session_state["bulk_keys"] = remaining


def bulk_keys_download(db: Database, person: Person, *, key: str) -> None:
    """The keys of a bulk run, downloadable once as CSV (the download is audited), then forgotten. A role that
    may not download keys is never handed the file."""
    rows = st.session_state.get("bulk_keys")
    if not rows:
        return
    reason = refused("export_keys")
    if reason is not None:
        st.button(f"Download the {len(rows)} new keys (CSV, once)", disabled=True, help=reason, key=key)
        return
    st.download_button(
        f"Download the {len(rows)} new keys (CSV, once)",
        data=keys_csv(db, rows),
        file_name="new-api-keys.csv",
        mime="text/csv",
        on_click=_bulk_downloaded,
        args=(db, person, list(rows)),
        type="primary",
        key=key,
    )


READINESS_ICONS = {"ok": "✅", "attention": "⚠️", NOT_VERIFIABLE: "➖", "failed": "❌", "skipped": "⏭️", NOT_RUN: "⏳"}


def readiness_panel(states: list[StepState], *, label: str, key: str) -> str | None:
    """The key's follow-through, one line per step; returns the step to run again from when asked."""
    st.text("Ready to use")
    for state in states:
        detail = f" — {state.detail}" if state.detail else ""
        st.text(f"{READINESS_ICONS.get(state.status, '•')} {state.label}: {state.status.replace('_', ' ')}{detail}")
    retry = first_unfinished_step(states)
    reason = refused("prepare_key")
    if retry is None:
        again = st.button(f"Check the key of {label} again", key=key, disabled=bool(reason), help=reason)
        return "check_key" if again else None
    title = f"Run '{STEP_LABELS[retry]}' and the steps after it for {label}"
    return retry if st.button(title, key=key, type="primary", disabled=bool(reason), help=reason) else None


HEALTH_ICONS = {"ok": "✅", "limited": "⚠️", "blocked": "⛔", "stopped": "❌"}


def key_health_panel(health: ChannelKeyHealth | None, *, label: str, minutes: float, key: str) -> bool:
    """The active key's last health check and how long ago; what to do when 360dialog refused it. Details quote
    360dialog, so they are shown as text, never as Markdown. Returns True when asked to check it now."""
    schedule = f"every active key is checked every {minutes:g} min" if minutes > 0 else "key health checks are off"
    if health is None or health.checked_at is None:
        st.text(f"⏳ Key health: not checked yet ({schedule})")
    else:
        icon = HEALTH_ICONS.get(health.status, "•")
        st.text(f"{icon} Key health: {health.label}, checked {relative(health.checked_at)}")
        st.caption(f"{exact(health.checked_at)}; {schedule}.")
        if health.status == "stopped":
            st.error(
                f"The key of {escape_markdown(label)} stopped working. Generate a new key for it below; if "
                "360dialog refuses, ask the client to grant the partner permission again in its 360dialog hub."
            )
        if health.detail:
            st.text(health.detail)
    if health is not None and health.problem:
        st.text(f"The last check could not be made ({relative(health.problem_at)}): {health.problem}")
    reason = refused("prepare_key")
    return st.button(f"Check the key health of {label} now", key=key, disabled=bool(reason), help=reason)
