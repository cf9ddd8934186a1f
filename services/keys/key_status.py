"""What the console knows of a channel's key, read from the database alone: its status, the names of the steps
that make a key ready to use, and what a stopped key means.

Nothing here decrypts, generates or asks 360dialog anything (no vault, no HTTP), so the scheduler's alert rules
read a key's status with the same SQL as the Channels page, without holding the key vault (their import
contract allows this module and forbids the rest of services.keys).
"""

from __future__ import annotations

from sqlite_utils import Database

# The steps that make a new key ready to use, in order (services.keys.readiness runs them), as the console names
# them.
STEPS = ("check_key", "set_webhook", "read_back")
STEP_LABELS = {"check_key": "key checked", "set_webhook": "messaging webhook set", "read_back": "webhook read back"}
# What a key that key health found refused (401 or 403) means (services.keys.health.checks).
STOPPED_MEANING = "the client may have generated its own key or withdrawn the partner's permission in its 360dialog hub"


def key_status_sql(channel_id_expression: str) -> str:
    """SQL for a channel's key status; the latest attempt that did not plainly fail decides it.

    One definition for one channel (`key_status`), for whole pages of channels (the channel list) and for the
    alert rules. The expression is the caller's own SQL (a column or a placeholder), never user input."""
    return f"""
    coalesce((
        select case
            when k.outcome in ('unknown', 'pending') then k.outcome
            when k.status = 'active' and exists (
                select 1 from key_health h where h.key_id = k.id and h.status = 'stopped'
            ) then 'stopped'
            else coalesce(k.status, 'none') end
        from api_keys k where k.channel_id = {channel_id_expression} and k.outcome != 'failed'
        order by k.id desc limit 1
    ), 'none')
    """  # noqa: S608


def key_status(db: Database, channel_id: str) -> str:
    """none, active, pending, unknown (an attempt whose result must be checked), stopped (active, but 360dialog
    refused it at its last health check), revoked or unusable."""
    return next(db.query(f"select {key_status_sql('?')} as status", [channel_id]))["status"]
