"""Links handed out for the sandbox hub, for the tests of links and of the redirects that come back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlite_utils import Database

from services.onboarding.links import HandedOutLink, LinkRequest, hand_out_link, sandbox_hub_url
from tests.support.people import person


@pytest.fixture
def link_for(db: Database) -> Callable[..., HandedOutLink]:
    """Hand out a sandbox link in `db` for an operator ("ana" unless told), with any LinkRequest fields."""

    def hand_out(operator: str = "ana", **kwargs: object) -> HandedOutLink:
        request = LinkRequest(
            env="sandbox",
            hub_url=sandbox_hub_url("http://127.0.0.1:8503"),
            params={"redirect_url": "http://localhost:8501/landing"},
            **kwargs,
        )
        return hand_out_link(db, request, partner_id="abcPA", actor=person(operator))

    return hand_out
