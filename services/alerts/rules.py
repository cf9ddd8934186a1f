"""The alert rules: each names a condition the console already shows somewhere, finds it in the database, says
what to do about it and where to look, and is turned on or off (with its threshold) by a setting.

The scheduler runs these without the key vault (its import contract): a key's status, its steps and what a
stopped key means come from services.keys.key_status, which holds no vault, the one definition the Channels page
reads too. The few facts the work queue (services.read_models.work_queue) reads are read here straight from their
tables; tests hold the two readings to the same answers. A rule that finds more than SCAN_LIMIT subjects alerts
on the first ones and resolves nothing that round, since what it did not read may still hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from services.channels.account_alerts import recent_channel_alerts
from services.channels.templates import template_problems
from services.keys.key_status import STEP_LABELS, STEPS, STOPPED_MEANING
from services.migrations import BAD_QUALITY_RATINGS, BAD_QUALITY_SQL
from services.phone_numbers import spelled_out
from services.settings import AlertSettings
from services.times import utc_text
from services.whatsapp import QUALITY_RATINGS, limit_value

SCAN_LIMIT = 5000
UNFINISHED_STAGES = ("created", "pending", "submitted", "ready")
FAILED_SYNC_OUTCOMES = ("failed", "abandoned")
RECEIVER_PAGE = "/receiver"
# A critical alert goes out at once, whatever the hourly cap and the digest; a warning waits its turn.
CRITICAL, WARNING = "critical", "warning"
SEVERITIES = (CRITICAL, WARNING)
# Quality ratings worst first, FLAGGED below RED: the further down a rating sits, the worse the alert.
QUALITY_BADNESS = ("GREEN", "YELLOW", "RED", "FLAGGED")


@dataclass(frozen=True)
class Finding:
    """A condition that holds now: `subject` is what it is about (a channel id, or the receiver's refusal
    reason...), one open alert each; `detail` says what happened, in our words."""

    rule: str
    subject: str
    detail: str
    channel_id: str | None = None
    # None: the rule's own severity. `badness` grows as the condition gets worse (a worse change is news again).
    severity: str | None = None
    badness: int = 0


@dataclass(frozen=True)
class Scan:
    findings: list[Finding]
    # False when the rule read only its first SCAN_LIMIT subjects: nothing it found absent may be resolved.
    complete: bool = True


Finder = Callable[[Database, AlertSettings, datetime], Scan]


@dataclass(frozen=True)
class Rule:
    key: str
    title: str
    todo: str
    # The setting that turns it on or off, and those that set its threshold.
    setting: str
    threshold_settings: tuple[str, ...]
    find: Finder
    is_on: Callable[[AlertSettings], bool]
    threshold: Callable[[AlertSettings], str]
    # Where to look when the alert is not about one channel.
    page: str = RECEIVER_PAGE
    severity: str = WARNING
    # What many of its alerts are, for one message about all of them ("22 numbers stuck in onboarding").
    many: str = "alerts"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _when(moment: str | None) -> str:
    return utc_text(moment, missing="an unknown time", zone=True)


def _rank_sql(column: str, order: tuple[str, ...]) -> str:
    """The position of the column's value in `order` (worst first), or null for a value Meta does not use."""
    listed = "|" + "|".join(order) + "|"
    return f"nullif(instr('{listed}', '|' || upper(trim({column})) || '|'), 0)"


def _bounded(rows: list[dict[str, Any]], make: Callable[[dict[str, Any]], Finding]) -> Scan:
    return Scan([make(row) for row in rows[:SCAN_LIMIT]], complete=len(rows) <= SCAN_LIMIT)


def _query(db: Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return list(db.query(sql, [*params, SCAN_LIMIT + 1]))


# -- channel conditions ----------------------------------------------------------------------------------------


def quality_drop_detail(row: dict[str, Any]) -> str:
    """The quality half of the Channels page's sentence (services.read_models.work_queue.quality_drop): quality stays
    per number; a limit drop is told per portfolio (find_limit_drops)."""
    old_q, new_q = row.get("previous_quality_rating"), row.get("quality_rating")
    if _fell(old_q, new_q, QUALITY_RATINGS):
        return f"quality fell from {old_q} to {new_q}"
    if _normalised(new_q) in BAD_QUALITY_RATINGS:
        return f"quality is {_normalised(new_q)}" + (f" (was {old_q})" if old_q else " (no earlier rating known)")
    return ""


def _normalised(value: str | None) -> str:
    return (value or "").strip().upper()


def _fell(old: str | None, new: str | None, order: tuple[str, ...]) -> bool:
    def rank(value: str | None) -> int | None:
        normalised = _normalised(value)
        return order.index(normalised) if normalised in order else None

    old_rank, new_rank = rank(old), rank(new)
    return old_rank is not None and new_rank is not None and new_rank < old_rank


def quality_badness(rating: str | None) -> int:
    normalised = _normalised(rating)
    return QUALITY_BADNESS.index(normalised) if normalised in QUALITY_BADNESS else 0


def _quality_finding(row: dict[str, Any]) -> Finding:
    bad = _normalised(row["quality_rating"]) in BAD_QUALITY_RATINGS
    at = row["quality_changed_at"] or row["updated_at"]
    return Finding(
        "quality_drop",
        row["id"],
        f"{quality_drop_detail(row)} (at {_when(at)})",
        row["id"],
        severity=CRITICAL if bad else WARNING,
        badness=quality_badness(row["quality_rating"]),
    )


def find_quality_drops(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    """A number whose quality fell (a warning while it stays YELLOW), and any number rated RED or FLAGGED
    (critical), whatever its earlier rating: a first known RED is no drop but needs someone all the same."""
    quality, previous_quality = (
        _rank_sql("quality_rating", QUALITY_RATINGS),
        _rank_sql("previous_quality_rating", QUALITY_RATINGS),
    )
    columns = "id, quality_rating, previous_quality_rating, quality_changed_at, updated_at"
    fell = _query(
        db,
        f"""
        select {columns} from channels
        where quality_changed_at is not null and {quality} < {previous_quality}
        order by quality_changed_at desc limit ?
        """,  # noqa: S608 - fixed fragments
        [],
    )
    bad = _query(
        db,
        f"select {columns} from channels where {BAD_QUALITY_SQL} order by updated_at desc limit ?",  # noqa: S608
        [],
    )
    rows = {row["id"]: row for row in [*fell, *bad]}
    complete = len(fell) <= SCAN_LIMIT and len(bad) <= SCAN_LIMIT
    return Scan([_quality_finding(row) for row in list(rows.values())[:SCAN_LIMIT]], complete=complete)


MAX_NUMBERS_NAMED = 20


def _limit_group(row: dict[str, Any]) -> str:
    """What a limit belongs to: the business portfolio when named, else the WABA, else the number alone."""
    if row["portfolio_id"]:
        return f"limit/business portfolio {row['portfolio_id']}"
    if row["waba_id"]:
        return f"limit/WABA {row['waba_id']}"
    return f"limit/channel {row['id']}"


def _limit_fell(row: dict[str, Any]) -> bool:
    old, new = limit_value(row["previous_messaging_limit"]), limit_value(row["messaging_limit"])
    return old is not None and new is not None and new < old


def find_limit_drops(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    """Meta sets messaging limits per business portfolio (contract section 7): one finding per portfolio (or WABA)
    whose numbers' latest limit change was a drop, naming them, tiers and numbers on one scale."""
    rows = _query(
        db,
        """
        select id, phone_number, waba_id, portfolio_id, messaging_limit, previous_messaging_limit, quality_changed_at
        from channels
        where quality_changed_at is not null and previous_messaging_limit is not null and messaging_limit is not null
          and messaging_limit != previous_messaging_limit and ended is null
        order by quality_changed_at desc limit ?
        """,
        [],
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows[:SCAN_LIMIT]:
        if _limit_fell(row):
            groups.setdefault(_limit_group(row), []).append(row)
    findings = []
    for subject, members in groups.items():
        newest = members[0]
        numbers = sorted(spelled_out(row["phone_number"]) or f"channel {row['id']}" for row in members)
        named = ", ".join(numbers[:MAX_NUMBERS_NAMED]) + (
            f" and {len(numbers) - MAX_NUMBERS_NAMED} more" if len(numbers) > MAX_NUMBERS_NAMED else ""
        )
        counted = "1 number" if len(numbers) == 1 else f"{len(numbers)} numbers"
        detail = (
            f"messaging limit fell from {newest['previous_messaging_limit']} to {newest['messaging_limit']}"
            f" for {subject.split('/', 1)[1]} (at {_when(newest['quality_changed_at'])}); {counted}: {named}"
        )
        findings.append(Finding("limit_drop", subject, detail, members[0]["id"] if len(members) == 1 else None))
    return Scan(findings, complete=len(rows) <= SCAN_LIMIT)


def find_template_problems(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    problems = template_problems(db, SCAN_LIMIT + 1, now=now)
    return Scan(
        [
            Finding(
                "template",
                f"{problem.channel_id}/{problem.event.subject}",
                f"{problem.event.summary}, WABA {problem.event.waba_id} (received {_when(problem.event.received_at)})",
                problem.channel_id,
            )
            for problem in problems[:SCAN_LIMIT]
        ],
        complete=len(problems) <= SCAN_LIMIT,
    )


def find_left_running(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    rows = _query(
        db,
        """
        select id, status, left_running_at, left_running_to from channels
        where left_running_at is not null and status is not 'running'
        order by left_running_at desc limit ?
        """,
        [],
    )

    def finding(row: dict[str, Any]) -> Finding:
        went_to = row["left_running_to"] or "not running"
        detail = f"the Partner API reports it {went_to} since {_when(row['left_running_at'])}"
        if row["status"] != row["left_running_to"]:
            detail += f"; {row['status'] or 'no status'} now"
        return Finding("left_running", row["id"], detail, row["id"])

    return _bounded(rows, finding)


def find_stuck(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    cutoff = _iso(now - timedelta(minutes=settings.stuck_minutes))
    rows: list[dict[str, Any]] = []
    # One indexed range per stage, as the attention list reads them.
    for stage in UNFINISHED_STAGES:
        rows.extend(
            _query(
                db,
                """
                select id, status, status_changed_at from channels
                where status = ? and status_changed_at < ? and +revoked = 0 and ended is null
                order by status_changed_at limit ?
                """,
                [stage, cutoff],
            )
        )
    rows.sort(key=lambda row: row["status_changed_at"])
    return _bounded(
        rows,
        lambda row: Finding(
            "stuck",
            row["id"],
            f"{row['status']} for over {settings.stuck_minutes:g} min (since {_when(row['status_changed_at'])})",
            row["id"],
        ),
    )


def find_running_without_key(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    # Read from the channels wanting a key that triggers keep (services.migrations, m032), as the work queue
    # reads them: asking every running channel for its key took about 400 ms a round at 100,000 channels.
    cutoff = _iso(now - timedelta(minutes=settings.no_key_minutes))
    rows = _query(
        db,
        "select channel_id, since from channels_wanting_key where since <= ? order by since limit ?",
        [cutoff],
    )
    return _bounded(
        rows,
        lambda row: Finding(
            "no_key",
            row["channel_id"],
            f"running since {_when(row['since'])} with no usable Messaging API key",
            row["channel_id"],
        ),
    )


def find_revoked(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    rows = _query(db, "select id, updated_at from channels where revoked = 1 order by updated_at desc limit ?", [])
    return _bounded(
        rows,
        lambda row: Finding(
            "revoked",
            row["id"],
            f"the client withdrew the partner's permission (seen {_when(row['updated_at'])})",
            row["id"],
        ),
    )


# Key permission as shared_client_numbers says it: granted, or withheld (not shared; 'denied' in older rows).
WITHHELD_PERMISSIONS = ("not_shared", "denied")
# A change of permission is news for this long; the next change is an alert of its own.
PERMISSION_CHANGE_DAYS = 7


def find_permission_changes(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    """Channels whose key permission last moved between granted and withheld in the last week: one alert per
    change (the subject names the new state)."""
    withheld = ", ".join(f"'{value}'" for value in WITHHELD_PERMISSIONS)
    since = _iso(now - timedelta(days=PERMISSION_CHANGE_DAYS))
    rows = _query(
        db,
        f"""
        select id, permission, previous_permission, permission_changed_at from channels
        where permission_changed_at >= ? and (
            (previous_permission = 'granted' and permission in ({withheld}))
            or (previous_permission in ({withheld}) and permission = 'granted'))
        order by permission_changed_at desc limit ?
        """,  # noqa: S608 - fixed fragments
        [since],
    )
    return _bounded(
        rows,
        lambda row: Finding(
            "permission_changed",
            f"{row['id']}/{row['permission']}",
            f"key permission {row['previous_permission']} -> {row['permission']} in 360dialog's shared numbers"
            f" (seen {_when(row['permission_changed_at'])})",
            row["id"],
        ),
    )


def find_account_alerts(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    alerts = recent_channel_alerts(db, SCAN_LIMIT + 1, now=now)
    findings = [
        Finding(
            "account",
            f"{alert.channel_id}/{alert.event_type}",
            f"{alert.label}: {alert.summary} (received {_when(alert.received_at)})",
            alert.channel_id,
        )
        for alert in alerts[:SCAN_LIMIT]
    ]
    return Scan(findings, complete=len(alerts) <= SCAN_LIMIT)


def find_failed_key_steps(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    """Active keys of open channels with a step that failed, from the keys not ready that triggers keep (m032), as
    the work queue lists them: asking every active key for its steps took about 115 ms a round at 100,000. (A cross
    join, so that SQLite reads the few keys not ready first rather than every step that ever failed.)"""
    order = " ".join(f"when '{step}' then {index}" for index, step in enumerate(STEPS))
    rows = _query(
        db,
        f"""
        select n.channel_id, s.step, s.detail, s.at from keys_not_ready n
        cross join key_steps s on s.key_id = n.key_id and s.status = 'failed'
        order by n.channel_id, case s.step {order} end limit ?
        """,  # noqa: S608 - fixed fragments
        [],
    )
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["channel_id"], row)
    return Scan(
        [
            Finding(
                "key_chain",
                channel_id,
                f"{STEP_LABELS.get(row['step'], row['step'])} failed at {_when(row['at'])}: "
                + (row["detail"] or "no detail"),
                channel_id,
            )
            for channel_id, row in first.items()
        ],
        complete=len(rows) <= SCAN_LIMIT,
    )


def find_stopped_keys(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    """Active keys of open channels that key health found refused (401 or 403): one alert per key, so a key that
    stays stopped over many rounds alerts once, and a new key for the channel resolves it."""
    rows = _query(
        db,
        """
        select h.key_id, h.channel_id, h.changed_at, k.key_last4 from key_health h
        join api_keys k on k.id = h.key_id and k.status = 'active'
        join channels c on c.id = k.channel_id and c.revoked = 0 and c.ended is null
        where h.status = 'stopped' order by h.changed_at desc limit ?
        """,
        [],
    )
    return _bounded(
        rows,
        lambda row: Finding(
            "key_stopped",
            f"key/{row['key_id']}",
            f"360dialog refused its key ending {row['key_last4']} at {_when(row['changed_at'])}: {STOPPED_MEANING}",
            row["channel_id"],
        ),
    )


# -- the receiver, the partner's webhooks, the sync ---------------------------------------------------------------


def find_refusals(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    """More than the threshold of refused requests in the window, per reason (the receiver's refusal log, which
    keeps at most 20 per source: a flood from one address counts as 20)."""
    since = _iso(now - timedelta(minutes=settings.rejections_minutes))
    rows = list(
        db.query(
            "select reason, count(*) as refused, max(at) as last from receiver_rejections where at >= ?"
            " group by reason having count(*) > ? order by refused desc",
            [since, settings.rejections_count],
        )
    )
    return Scan(
        [
            Finding(
                "rejections",
                f"receiver/{row['reason']}",
                f"{row['refused']} requests refused in the last {settings.rejections_minutes:g} min"
                f" ({row['reason']}), the last at {_when(row['last'])}",
            )
            for row in rows
        ]
    )


def last_event_at(db: Database) -> str | None:
    """When the newest partner event was received, listed or still incoming (as Receiver health reads it)."""
    return db.execute(
        "select max(at) from (select max(received_at) as at from events"
        " union all select max(received_at) from incoming_events)"
    ).fetchone()[0]


def find_silence(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    marks = ", ".join("?" for _ in UNFINISHED_STAGES)
    onboarding = db.execute(
        f"select count(*) from channels where status in ({marks}) and +revoked = 0 and ended is null",  # noqa: S608
        list(UNFINISHED_STAGES),
    ).fetchone()[0]
    if not onboarding:
        return Scan([])
    last = last_event_at(db)
    if last is not None and last >= _iso(now - timedelta(hours=settings.heartbeat_hours)):
        return Scan([])
    since = f"since {_when(last)}" if last else "ever"
    channels = "channel is" if onboarding == 1 else "channels are"
    return Scan(
        [
            Finding(
                "heartbeat",
                "partner webhooks",
                f"no partner event {since} (over {settings.heartbeat_hours:g} h)"
                f" while {onboarding} {channels} onboarding",
            )
        ]
    )


def find_failed_sync(db: Database, settings: AlertSettings, now: datetime) -> Scan:
    rows = list(db.query("select * from sync_runs where outcome != 'running' order by id desc limit 1"))
    if not rows or rows[0]["outcome"] not in FAILED_SYNC_OUTCOMES:
        return Scan([])
    run = rows[0]
    by = "the scheduler" if run["trigger"] == "scheduler" else run["operator"]
    detail = f"sync run #{run['id']} by {by} {run['outcome']} at {_when(run['finished_at'])}"
    return Scan([Finding("sync_failed", "partner api sync", detail + (f": {run['error']}" if run["error"] else ""))])


RULES: tuple[Rule, ...] = (
    Rule(
        "quality_drop",
        "Quality dropped or low",
        "Look at what this number sent lately (templates, opt-outs, blocks): Meta lowers quality after negative "
        "feedback. Hold campaigns on it until its quality recovers.",
        "CONSOLE_ALERT_QUALITY_DROP",
        (),
        find_quality_drops,
        lambda s: s.quality_drop,
        lambda s: "a drop to YELLOW (warning); RED or FLAGGED, whatever came before (critical); per number",
        severity=CRITICAL,
        many="numbers with falling or low quality",
    ),
    Rule(
        "limit_drop",
        "Messaging limit dropped",
        "Meta sets the limit per business portfolio: every number named shares it. Spread or hold campaigns until "
        "the limit recovers, and look at the portfolio's quality in the WhatsApp Manager.",
        "CONSOLE_ALERT_LIMIT_DROP",
        (),
        find_limit_drops,
        lambda s: s.limit_drop,
        lambda s: "any drop, one alert per business portfolio (or WABA)",
        page="/channels",
        many="business portfolios whose messaging limit dropped",
    ),
    Rule(
        "template",
        "Template rejected, paused or disabled",
        "Open the template in the WhatsApp Manager: fix and resubmit a rejected one, and hold campaigns that use a "
        "paused or disabled one. The event is in each of the WABA's channels' timelines.",
        "CONSOLE_ALERT_TEMPLATE",
        (),
        find_template_problems,
        lambda s: s.template,
        lambda s: "each template's newest decision of the last 30 days",
        many="template problems",
    ),
    Rule(
        "left_running",
        "Channel left running",
        "The Partner API no longer reports it running: check it in the 360dialog hub (disabled, flagged, billing) "
        "and talk to the client.",
        "CONSOLE_ALERT_LEFT_RUNNING",
        (),
        find_left_running,
        lambda s: s.left_running,
        lambda s: "as soon as a sync sees it",
        many="channels left running",
    ),
    Rule(
        "stuck",
        "Stuck in onboarding",
        "The client may not have finished signing up or verifying the number: contact them, or check the channel "
        "in the 360dialog hub.",
        "CONSOLE_ALERT_STUCK",
        ("CONSOLE_ALERT_STUCK_MINUTES",),
        find_stuck,
        lambda s: s.stuck,
        lambda s: f"one stage for over {s.stuck_minutes:g} min",
        many="numbers stuck in onboarding",
    ),
    Rule(
        "no_key",
        "Running without a key",
        "Generate its Messaging API key on the channel's page; the console then makes it ready to use.",
        "CONSOLE_ALERT_NO_KEY",
        ("CONSOLE_ALERT_NO_KEY_MINUTES",),
        find_running_without_key,
        lambda s: s.no_key,
        lambda s: f"running for {s.no_key_minutes:g} min with no key",
        many="numbers running without a key",
    ),
    Rule(
        "revoked",
        "Permission revoked",
        "The client withdrew the partner's permission and its key no longer works: talk to the client; a new IO "
        "link gives it back.",
        "CONSOLE_ALERT_REVOKED",
        (),
        find_revoked,
        lambda s: s.revoked,
        lambda s: "as soon as it is known",
        severity=CRITICAL,
        many="numbers whose permission was revoked",
    ),
    Rule(
        "permission_changed",
        "Key permission changed",
        "The client changed the partner's key permission in its hub: if it was withdrawn, talk to the client (its "
        "key may stop working); if it was granted, generate the key on the channel's page.",
        "CONSOLE_ALERT_PERMISSION_CHANGED",
        (),
        find_permission_changes,
        lambda s: s.permission_changed,
        lambda s: f"granted -> not shared, and back, for {PERMISSION_CHANGE_DAYS} days",
        many="key permission changes",
    ),
    Rule(
        "account",
        "Account violation or restriction",
        "Read Meta's notice in the WhatsApp Manager and act before the number is limited further; the event is in "
        "the channel's timeline.",
        "CONSOLE_ALERT_ACCOUNT",
        (),
        find_account_alerts,
        lambda s: s.account,
        lambda s: "each channel's newest of the last 30 days",
        severity=CRITICAL,
        many="account violations or restrictions",
    ),
    Rule(
        "key_chain",
        "Key not ready: a step failed",
        "Open the channel and run the failed step again: its detail says what 360dialog answered.",
        "CONSOLE_ALERT_KEY_CHAIN",
        (),
        find_failed_key_steps,
        lambda s: s.key_chain,
        lambda s: "any failed step of the active key",
        many="keys not ready (a step failed)",
    ),
    Rule(
        "key_stopped",
        "Key stopped working",
        "Generate a new key on the channel's page (the console then makes it ready to use). If 360dialog refuses, "
        "ask the client to grant the partner permission again in its 360dialog hub.",
        "CONSOLE_ALERT_KEY_STOPPED",
        (),
        find_stopped_keys,
        lambda s: s.key_stopped,
        lambda s: "once per key that 360dialog refuses (401 or 403)",
        severity=CRITICAL,
        many="keys that stopped working",
    ),
    Rule(
        "rejections",
        "Receiver refusing requests",
        "If these are 360dialog's webhooks, check D360_PLATFORM_SECRET and the custom header; if not, see their "
        "sources on Receiver health.",
        "CONSOLE_ALERT_REJECTIONS",
        ("CONSOLE_ALERT_REJECTIONS_COUNT", "CONSOLE_ALERT_REJECTIONS_MINUTES"),
        find_refusals,
        lambda s: s.rejections,
        lambda s: f"more than {s.rejections_count} in {s.rejections_minutes:g} min, per reason",
        severity=CRITICAL,
        many="kinds of refused requests at the receiver",
    ),
    Rule(
        "heartbeat",
        "No partner event",
        "Check that 360dialog can reach the receiver (proxy, DNS, TLS) and that the webhook URL is registered "
        "(python -m services.onboarding.partner_setup).",
        "CONSOLE_ALERT_HEARTBEAT",
        ("CONSOLE_ALERT_HEARTBEAT_HOURS",),
        find_silence,
        lambda s: s.heartbeat,
        lambda s: f"none for {s.heartbeat_hours:g} h while channels onboard",
        many="silences of partner webhooks",
    ),
    Rule(
        "sync_failed",
        "Partner API sync failed",
        "See the run on Receiver health and check the Partner API credentials; the next sync runs on schedule.",
        "CONSOLE_ALERT_SYNC_FAILED",
        (),
        find_failed_sync,
        lambda s: s.sync_failed,
        lambda s: "the last run failed",
        severity=CRITICAL,
        many="failed syncs",
    ),
)
RULES_BY_KEY = {rule.key: rule for rule in RULES}


def severity_of(finding: Finding) -> str:
    return finding.severity or RULES_BY_KEY[finding.rule].severity


def scan_rules(db: Database, settings: AlertSettings, now: datetime) -> dict[str, Scan]:
    """Every rule that is on, read from the database as it is now."""
    return {rule.key: rule.find(db, settings, now) for rule in RULES if rule.is_on(settings)}
