"""A channel's timeline: its link, redirect, webhooks and operator actions, newest first."""

from __future__ import annotations

from services import audit
from services.events.webhook import normalise_event
from services.onboarding.links import LinkRequest, hand_out_link
from services.onboarding.redirect_params import parse_redirect
from services.onboarding.redirect_store import save_redirect
from services.read_models.channel_timeline import channel_timeline
from tests.support.events import save_events
from tests.support.people import person


def test_timeline_holds_link_redirect_webhooks_and_operator_actions(db) -> None:
    link = hand_out_link(db, LinkRequest(), partner_id="demoPA", actor=person("alice"))
    redirect = parse_redirect({"client": ["clCL"], "channels": ["[chCH,otherCH]"], "state": [link.state]})
    save_redirect(db, f"client=clCL&channels=[chCH,otherCH]&state={link.state}", redirect)
    save_events(
        db,
        [normalise_event({"id": "e1", "event": "channel_status_running", "data": {"id": "chCH"}})],
        headers={},
        verdict="ok",
    )
    audit.record(db, operator="bob", action="generate_key", channel_id="chCH", outcome="ok", detail="key ending 1234")
    audit.record(db, operator="bob", action="generate_key", channel_id="otherCH", outcome="ok")
    entries = channel_timeline(db, "chCH")
    whats = [entry.what for entry in entries]
    assert whats[0] == "key generated"
    assert set(whats) == {
        "onboarding link handed out",
        "redirect (not applied) claims: permission granted",  # its channels are not known yet
        "webhook channel_status_running",
        "key generated",
    }
    assert {entry.who for entry in entries} == {"alice", "client", "360dialog", "bob"}
    assert [entry.at for entry in entries] == sorted((entry.at for entry in entries), reverse=True)


def test_the_timeline_speaks_in_sentences(db) -> None:
    """Not `demo_revoke: ok` nor "state no state": what happened, in words, and whose redirect it was."""
    db["clients"].insert({"id": "clCL", "name": "Café Olé"})
    save_redirect(db, "client=clCL&channels=[chCH]", parse_redirect({"client": ["clCL"], "channels": ["[chCH]"]}))
    audit.record(db, operator="dora", action="demo_revoke", channel_id="chCH", outcome="ok")
    audit.record(db, operator="dora", action="generate_key", channel_id="chCH", outcome="failed", detail="403")
    entries = channel_timeline(db, "chCH")
    whats = {entry.what for entry in entries}
    assert {"demo: the client withdrew permission", "key generation: failed"} <= whats
    assert all(":" not in what or not what.endswith(": ok") for what in whats)
    [redirect] = [entry for entry in entries if entry.who == "client"]
    assert redirect.detail == "for Café Olé; it named no link handed out here"
    assert "None" not in " ".join(f"{entry.what} {entry.detail}" for entry in entries)
