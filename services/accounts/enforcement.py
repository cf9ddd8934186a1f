"""Where each action's service function checks the acting person's role, before any side effect."""

from __future__ import annotations

from sqlite_utils import Database

from services import audit
from services.accounts.roles import NotAllowed, Person, audit_fields, refusal


def enforce(db: Database, actor: Person, action_name: str, *, channel_id: str | None = None) -> None:
    """Raise NotAllowed unless the actor's role may do the action; a refusal is audited with its reason, and is
    the only thing written."""
    reason = refusal(actor, action_name)
    if reason is None:
        return
    audit.record(db, **audit_fields(actor), action=action_name, outcome="refused", channel_id=channel_id, detail=reason)
    raise NotAllowed(reason)
