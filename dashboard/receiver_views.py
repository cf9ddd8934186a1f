"""The Receiver health page's sections, each refreshed on its own: what the webhook receiver stored and refused,
how the last Partner API syncs went, and the last key-health round."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dashboard.context import DatabaseError, get_db, require_settings
from dashboard.plain_text import escape_markdown
from dashboard.times import exact, relative
from services.channels.sync_runs import current_holder, last_run, recent_runs
from services.keys.health.reading import VERDICT_LABELS, last_round, verdict_counts
from services.keys.health.status import process_status
from services.process_state import ProcessState
from services.receiver.stats import receiver_health
from services.scheduler.status import scheduler_status
from services.times import utc_text


def _when(moment: str | None) -> str:
    """A stored UTC time, to the second; a time not set yet is now."""
    return utc_text(moment, missing="now")


@st.fragment(run_every=5)
def stored_and_refused() -> None:
    """What the receiver stored, counted as a duplicate, or refused; and the last refusals."""
    try:
        current = receiver_health(get_db())
    except DatabaseError as error:
        st.error(f"The console database cannot be read right now ({type(error).__name__}); retrying in 5 s.")
        return
    last, accepted, duplicate, rejected = st.columns(4)
    last.metric(
        "Last event stored",
        relative(current.last_event_at, empty="none yet"),
        help=exact(current.last_event_at, empty="No event stored yet."),
    )
    accepted.metric("Accepted events", current.accepted)
    duplicate.metric("Duplicate events", current.duplicate)
    rejected.metric("Rejected requests", current.rejected)
    if current.last_signature:
        st.caption(f"Signature of the newest event listed: {current.last_signature}.")
    if current.waiting_to_be_listed:
        # Normal for a moment during a burst; a number that stays means the receiver cannot index them.
        st.info(
            f"{current.waiting_to_be_listed} stored events are not yet listed on the Events page. "
            "The receiver lists them as soon as deliveries pause; if this number stays, see the receiver's log."
        )

    st.subheader("Recent rejections")
    if not current.recent_rejections:
        st.info("No request has been refused.")
        return
    frame = pd.DataFrame(current.recent_rejections)[["at", "source", "status", "reason"]]
    frame["at"] = [exact(at) for at in frame["at"]]
    st.dataframe(frame, hide_index=True, width="stretch")


def _scheduler_line(sync_minutes: float) -> str:
    if sync_minutes <= 0:
        return "Automatic sync is off (CONSOLE_SYNC_MINUTES = 0): channels are synced only from the Channels page."
    return _process_line(
        scheduler_status(get_db()),
        every=lambda minutes: f"Automatic sync every {minutes:g} min",
        minutes=sync_minutes,
        name="the scheduler",
        stopped_after=", not running now",
        next_run="next sync",
    )


def _process_line(
    process: ProcessState | None,
    *,
    every: Callable[[float], str],
    minutes: float,
    name: str,
    next_run: str,
    stopped_after: str = "",
    pid: bool = False,
) -> str:
    """What a long-running process says about itself: not started, stopped, or running with its next run (and
    whether that is already past)."""
    if process is None:
        return f"{every(minutes)}: {name} has not started yet."
    if not process.running:
        return f"{every(minutes)}: {name} stopped at {_when(process.stopped_at)} (UTC){stopped_after}."
    runs = f"{name} (pid {process.pid}) runs" if pid else f"{name} runs"
    line = (
        f"{every(process.interval_minutes)}: {runs} since {_when(process.started_at)}; "
        f"{next_run} at {_when(process.next_run_at)} (UTC)."
    )
    return line + (f" That is past: is {name} still running? See its log." if process.overdue() else "")


@st.fragment(run_every=5)
def sync_health() -> None:
    try:
        last, holder, runs = last_run(get_db()), current_holder(get_db()), recent_runs(get_db())
        scheduler = _scheduler_line(require_settings().sync_minutes)
    except DatabaseError:
        return  # the receiver's section above already says the database cannot be read
    st.subheader("Partner API sync")
    st.caption(scheduler)
    if holder is not None:
        # The holder is an operator's name, typed at sign-in: text, never Markdown.
        st.caption(
            f"A sync is running now, started by {escape_markdown(holder.holder)} at {_when(holder.since)} (UTC)."
        )
    if last is None:
        st.text("No sync has run yet.")
        return
    when, took, outcome = st.columns([2, 1, 1])  # room for the whole time
    when.metric("Last sync started (UTC)", _when(last.started_at))
    took.metric("Last sync took", f"{last.duration_seconds:.1f} s" if last.duration_seconds is not None else "-")
    outcome.metric("Last sync outcome", last.outcome)
    # Run by the scheduler or an operator; an error is our own sentence (it never holds a secret).
    st.text(" · ".join(part for part in (f"by {last.by}", last.counts(), last.error or "") if part))
    frame = pd.DataFrame(
        [
            {
                "started (UTC)": _when(run.started_at),
                "by": run.by,
                "outcome": run.outcome,
                "seconds": run.duration_seconds,
                "read": run.seen,
                "new": run.new_channels,
                "changed": run.changed_channels,
                "left running": run.left_running,
                "error": run.error,
            }
            for run in runs
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")


def _key_health_line(minutes: float) -> str:
    if minutes <= 0:
        return (
            "Key health checks are off (CONSOLE_KEY_HEALTH_MINUTES = 0): a key that stops working is noticed only "
            "when the client's messages stop."
        )
    return _process_line(
        process_status(get_db()),
        every=lambda every_minutes: f"Every active key is checked every {every_minutes:g} min",
        minutes=minutes,
        name="the key-health process",
        next_run="next round",
        pid=True,
    )


def _verdicts_line(counts: dict[str, int]) -> str:
    shown = [f"{counts[status]} {label}" for status, label in VERDICT_LABELS.items() if counts.get(status)]
    if counts.get("could_not_check"):
        shown.append(f"{counts['could_not_check']} could not be checked the last time")
    return "Active keys: " + ("; ".join(shown) if shown else "none") + "."


@st.fragment(run_every=5)
def key_health() -> None:
    try:
        line, last, counts = (
            _key_health_line(require_settings().key_health.minutes),
            last_round(get_db()),
            verdict_counts(get_db()),
        )
    except DatabaseError:
        return  # the receiver's section above already says the database cannot be read
    st.subheader("Key health")
    st.caption(line)
    st.text(_verdicts_line(counts))
    if last is None:
        st.text("No key-health round has checked a key yet.")
        return
    when, checked, stopped, failed, due = st.columns([2, 1, 1, 1, 1])
    # "12 s ago" fits a narrow column where a full date and time would be cut; the exact time is one hover away.
    when.metric("Last key round", relative(last.finished_at), help=exact(last.finished_at))
    checked.metric("Keys checked", last.checked)
    stopped.metric("Stopped working", last.stopped)
    failed.metric("Could not check", last.could_not_check)
    due.metric(
        "Still due", last.still_due, help="Keys due now that the round's budget (CONSOLE_KEY_HEALTH_BUDGET) left"
    )
