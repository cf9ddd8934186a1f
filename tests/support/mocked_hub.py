"""The Partner API as unit tests mock it with `responses`: one base URL, and a client of it."""

from __future__ import annotations

from services.partner_api import PartnerApi

BASE = "http://hub.test/api/v2"


def mocked_hub_client() -> PartnerApi:
    return PartnerApi(BASE, "pa", api_key="partner-key-123456", timeout=2)
