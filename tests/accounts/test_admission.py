"""Who single sign-on lets in: allowed addresses and domains (exactly), verified e-mail only, expiry, session
age, and the role from a claim or from the mapping."""

from __future__ import annotations

import pytest

from services.accounts import ADMIN, OPERATOR, VIEWER, AdmissionPolicy, Person, Refusal, SignInMethod, admit

NOW = 1_800_000_000.0
HOUR = 3600.0
TEAM = AdmissionPolicy(
    allowed_emails=frozenset({"carol@partner.example"}),
    allowed_domains=frozenset({"example.com"}),
    role_map={"ana@example.com": ADMIN, "example.com": OPERATOR},
    default_role=VIEWER,
    session_hours=12.0,
)


def claims(email: str = "ana@example.com", **extra: object) -> dict[str, object]:
    return {
        "email": email,
        "email_verified": True,
        "name": "Ana Lopez",
        "iat": NOW - 60,
        "exp": NOW + HOUR,
        "sub": "1234",
        **extra,
    }


def refused(outcome: Person | Refusal) -> Refusal:
    assert isinstance(outcome, Refusal), outcome
    return outcome


def test_an_allowed_domain_lets_in_with_the_mapped_role() -> None:
    ana = admit(claims(), TEAM, NOW)
    assert ana == Person(id="ana@example.com", display_name="Ana Lopez", role=ADMIN, method=SignInMethod.SSO)
    bob = admit(claims("Bob@Example.COM", name=None), TEAM, NOW)
    assert bob == Person(id="bob@example.com", display_name="bob@example.com", role=OPERATOR, method=SignInMethod.SSO)


def test_an_allowed_address_lets_in_with_the_default_role() -> None:
    carol = admit(claims("carol@partner.example"), TEAM, NOW)
    assert isinstance(carol, Person)
    assert carol.role == VIEWER


def test_an_address_on_no_list_is_refused_and_told_why() -> None:
    refusal = refused(admit(claims("ana@gmail.com"), TEAM, NOW))
    assert refusal.reason == "ana@gmail.com is not on this console's list of allowed addresses or domains"
    assert refusal.email == "ana@gmail.com"
    assert not refusal.sign_in_again


@pytest.mark.parametrize(
    "email",
    [
        "ana@example.com.evil.io",
        "ana@evil-example.com",
        "ana@evilexample.com",
        "ana@eu.example.com",
        "ana@example.co",
        "example.com@evil.io",
        "ana@example.com@evil.io",
        '"ana@example.com"@evil.io',
        "dave@partner.example",
        "carol@partner.example.evil.io",
    ],
)
def test_no_suffix_or_prefix_trick_gets_in(email: str) -> None:
    refusal = refused(admit(claims(email), TEAM, NOW))
    # An address with two '@' is not one the console can name: refused before any list is read.
    assert refusal.reason.endswith("allowed addresses or domains") or "did not send an e-mail" in refusal.reason


@pytest.mark.parametrize(
    "verification",
    [{"email_verified": False}, {"email_verified": "false"}, {"email_verified": None}, {"email_verified": 1}, {}],
)
def test_an_unverified_or_unsaid_verification_is_refused(verification: dict[str, object]) -> None:
    token = claims()
    del token["email_verified"]
    token.update(verification)
    refusal = refused(admit(token, TEAM, NOW))
    assert refusal.reason == "ana@example.com is not a verified address at your identity provider"


def test_a_verification_sent_as_text_counts() -> None:
    assert isinstance(admit(claims(email_verified="true"), TEAM, NOW), Person)


def test_entra_domain_verification_counts_only_when_email_verified_is_absent() -> None:
    token = claims(xms_edov=True)
    del token["email_verified"]
    assert isinstance(admit(token, TEAM, NOW), Person)
    assert isinstance(admit(claims(email_verified=False, xms_edov=True), TEAM, NOW), Refusal)
    token["xms_edov"] = False
    assert isinstance(admit(token, TEAM, NOW), Refusal)


@pytest.mark.parametrize("email", [None, "", "not an address", 42, "ana@", "@example.com"])
def test_no_usable_email_is_refused(email: object) -> None:
    refusal = refused(admit(claims(email=email), TEAM, NOW))  # type: ignore[arg-type]
    assert "did not send an e-mail address" in refusal.reason


@pytest.mark.parametrize("expiry", [NOW, NOW - 1, "1700000000"])
def test_an_expired_token_is_sent_back_to_sign_in(expiry: object) -> None:
    refusal = refused(admit(claims(exp=expiry), TEAM, NOW))
    assert refusal.reason == "your sign-in has expired: sign in again"
    assert refusal.sign_in_again
    assert refusal.email == "ana@example.com"


@pytest.mark.parametrize("expiry", [None, "soon", float("nan"), True, [NOW + HOUR]])
def test_a_token_without_a_readable_expiry_is_sent_back(expiry: object) -> None:
    token = claims(exp=expiry)
    assert refused(admit(token, TEAM, NOW)).sign_in_again
    del token["exp"]
    assert refused(admit(token, TEAM, NOW)).sign_in_again


def test_a_sign_in_older_than_the_session_hours_is_sent_back() -> None:
    old = claims(iat=NOW - 12 * HOUR - 1, exp=NOW + HOUR)
    refusal = refused(admit(old, TEAM, NOW))
    assert refusal.reason == "your sign-in is older than 12 hours: sign in again"
    assert refusal.sign_in_again
    assert isinstance(admit(claims(iat=NOW - 12 * HOUR + 1), TEAM, NOW), Person)


def test_the_session_start_counts_when_it_is_earlier_than_the_token() -> None:
    # A provider that refreshes the token keeps `iat` young; the console's own note of the start still counts.
    assert refused(admit(claims(), TEAM, NOW, session_started=NOW - 13 * HOUR)).sign_in_again
    assert isinstance(admit(claims(), TEAM, NOW, session_started=NOW - HOUR), Person)


def test_an_email_mapping_wins_over_its_domain_and_the_default_comes_last() -> None:
    policy = AdmissionPolicy(
        allowed_domains=frozenset({"example.com", "partner.example"}),
        role_map={"ana@example.com": VIEWER, "example.com": ADMIN},
        default_role=OPERATOR,
    )
    roles = {email: admit(claims(email), policy, NOW).role for email in ("ana@example.com", "bob@example.com")}  # type: ignore[union-attr]
    assert roles == {"ana@example.com": VIEWER, "bob@example.com": ADMIN}
    assert admit(claims("eve@partner.example"), policy, NOW).role == OPERATOR  # type: ignore[union-attr]


def test_the_mapping_lets_nobody_in_by_itself() -> None:
    policy = AdmissionPolicy(allowed_domains=frozenset({"example.com"}), role_map={"mallory@evil.io": ADMIN})
    assert isinstance(admit(claims("mallory@evil.io"), policy, NOW), Refusal)


ROLE_CLAIM = AdmissionPolicy(allowed_domains=frozenset({"example.com"}), role_claim="console_role")


@pytest.mark.parametrize(
    ("value", "role"),
    [
        ("operator", OPERATOR),
        (" Admin ", ADMIN),
        (["Everyone", "viewer"], VIEWER),
        (["viewer", "admin", "operator", "Sales"], ADMIN),
    ],
)
def test_a_role_claim_decides_the_role(value: object, role: str) -> None:
    outcome = admit(claims(console_role=value), ROLE_CLAIM, NOW)
    assert isinstance(outcome, Person)
    assert outcome.role == role


@pytest.mark.parametrize("value", [None, "superuser", ["Everyone"], [], 3, {"role": "admin"}])
def test_a_role_claim_naming_no_role_refuses_rather_than_guess(value: object) -> None:
    token = claims(console_role=value)
    refusal = refused(admit(token, ROLE_CLAIM, NOW))
    assert refusal.reason == (
        "your identity provider gave ana@example.com no console role (claim console_role): "
        "ask your administrator for one of viewer, operator, admin"
    )
    del token["console_role"]
    assert isinstance(admit(token, ROLE_CLAIM, NOW), Refusal)


def test_a_role_claim_does_not_let_in_someone_off_the_list() -> None:
    assert isinstance(admit(claims("ana@gmail.com", console_role="admin"), ROLE_CLAIM, NOW), Refusal)


def test_a_display_name_that_is_not_printable_is_not_shown() -> None:
    outcome = admit(claims(name="Ana\u202eevil"), TEAM, NOW)
    assert isinstance(outcome, Person)
    assert outcome.display_name == "ana@example.com"
