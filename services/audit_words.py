"""Audit actions and outcomes as people say them: the timelines and the Audit page use these words, never the
codes stored in the rows."""

from __future__ import annotations

# What each action did when it went through ("ok"), and what to call it otherwise.
DONE = {
    "generate_key": "key generated",
    "reveal_key": "key shown to an operator",
    "revoke_key": "key revoked",
    "export_keys": "new keys downloaded",
    "sync_channels": "channels synced from the Partner API",
    "check_permission": "permission checked with 360dialog",
    "redirect_apply": "redirect applied",
    "redirect_discard": "redirect discarded",
    "redirect_discard_bulk": "redirects discarded",
    "permission_revoked": "permission withdrawn by the client",
    "login": "signed in",
    "sign_out": "signed out",
    "check_key_health": "key health checked",
    "check_key": "key checked with 360dialog",
    "set_messaging_webhook": "messaging webhook set",
    "read_back_webhook": "messaging webhook read back",
    "hand_out_link": "onboarding link handed out",
    "bulk_generate_keys": "keys generated in bulk",
    "bulk_prepare_keys": "keys made ready in bulk",
}
NOUNS = {
    "generate_key": "key generation",
    "reveal_key": "showing the key",
    "revoke_key": "key revocation",
    "export_keys": "key download",
    "sync_channels": "sync from the Partner API",
    "check_permission": "permission check",
    "redirect_apply": "applying the redirect",
    "redirect_discard": "discarding the redirect",
    "redirect_discard_bulk": "discarding redirects",
    "login": "sign-in",
    "check_key_health": "key health check",
    "check_key": "key check",
    "set_messaging_webhook": "setting the messaging webhook",
    "read_back_webhook": "reading the messaging webhook back",
    "demo_controls": "demo control",
    "bulk_generate_keys": "bulk key generation",
    "bulk_prepare_keys": "making keys ready in bulk",
}
DEMO_CONTROLS = {
    "load_scenario": "the realistic scenario loaded",
    "reset": "the demo reset",
    "quality_change": "a quality change sent",
    "revoke": "the client withdrew permission",
    "grant": "the client granted permission again",
    "regenerate_key": "the client made its own key",
    "account_violation": "an account violation sent",
    "account_restriction": "an account restriction sent",
    "template_status": "a template status change sent",
    "cancellation": "a cancellation step sent",
    "portfolio_limit": "a portfolio limit sent",
    "onboard_stuck": "a channel onboarded that stays pending",
    "switches": "the hub's delivery switches changed",
    "resend": "a webhook sent again",
}
OUTCOMES = {
    "failed": "failed",
    "refused": "refused",
    "started": "started, no answer recorded",
    "unknown": "without an answer from 360dialog",
    "attention": "done, but Meta limits sending",
    "not_verifiable": "done; 360dialog offers no read to confirm it",
    "skipped": "skipped",
}
# What a Partner API sync saw of a channel.
SYNC_OUTCOMES = {
    "new": "the Partner API sync found this channel",
    "changed": "the Partner API sync saw a change",
    "left running": "the Partner API sync saw it leave running",
}


def _noun(action: str) -> str:
    if action.startswith("demo_"):
        return "demo: " + DEMO_CONTROLS.get(
            action.removeprefix("demo_"), action.removeprefix("demo_").replace("_", " ")
        )
    return NOUNS.get(action) or action.replace("_", " ")


def action_words(action: str) -> str:
    """The action's name in words: 'key generation', 'demo: the client withdrew permission'."""
    return _noun(action)


def what_happened(action: str, outcome: str | None) -> str:
    """One line a person reads: 'key generated', 'key generation failed', 'demo: the client withdrew
    permission'; an outcome not known here is said as it is, never as `None`."""
    if action == "sync" and outcome in SYNC_OUTCOMES:
        return SYNC_OUTCOMES[outcome]
    if outcome in (None, "", "ok"):
        return DONE.get(action) or _noun(action)
    return f"{_noun(action)}: {OUTCOMES.get(outcome, outcome.replace('_', ' '))}"
