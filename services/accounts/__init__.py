"""Team access: people, roles, password accounts, server-side sessions and who single sign-on lets in.

Plain Python, no Streamlit: the dashboard's sign-in and every action's service function call it.

- `roles`: `Person` (frozen: `id`, the e-mail for single sign-on, the account name for a password account,
  "demo" in demo mode; `display_name`; `role`; `method`), the roles `viewer` < `operator` < `admin`, and
  ACTIONS, each action of the console with the least role that may do it. `may(person, action) -> bool`,
  `refusal(person, action) -> str | None` (the reason, fit to show: "Viewers cannot generate keys (...): ask an
  operator or an admin"), `require(person, action)` raising `NotAllowed(PermissionError)` with that reason,
  `demo_person()` (an admin named "demo"), `system_person(name)` (the scheduler or a background job: an
  admin), `command_line_person(system_user)` (whoever runs the accounts command on the server: an admin),
  `audit_fields(person)` (the audit row's operator and role) and
  `audit_identity(person)` ("ana@example.com (operator)").
- `enforcement`: `enforce(db, actor, action, channel_id=None)`, what every action's service function calls first:
  NotAllowed unless the role may, with the refusal audited (outcome "refused", the reason as detail).
- `admission`: `admit(claims, AdmissionPolicy.from_settings(settings), now, session_started=None)` ->
  `Person | Refusal`, over the claims st.user exposes; a `Refusal` has the `reason` to show, the `email` to
  audit and `sign_in_again` for an expired sign-in.
- `password_accounts`: `add_account(db, actor, name, password, role)`, `reset_password(db, actor, name,
  password)`, `remove_account(db, actor, name)`, `set_role(db, actor, name, role)` (each refused unless the
  acting person may `manage_accounts`, and audited), `list_accounts`, `get_account`, `has_accounts(db)`, and
  `authenticate(db, name, password) -> Person | None` (as slow for an unknown name as for a wrong password).
  `AccountError` says what is wrong with a request.
- `sessions`: `start_session(db, person, hours) -> token`, `resume_session(db, token) -> Person | None` (the
  role read fresh from the account), `end_session(db, token)`, `end_sessions_of(db, account)`; the cookie's
  value `sign_token(token, secret)` / `unsign_token(value, secret, max_age_seconds) -> str | None`, with
  `cookie_secret(settings.encryption_key)` as the secret.
- `cli`: `python -m services.accounts add|list|reset|remove|role`.
"""

from services.accounts.admission import AdmissionPolicy, Refusal, admit
from services.accounts.enforcement import enforce
from services.accounts.password_accounts import (
    Account,
    AccountError,
    add_account,
    authenticate,
    get_account,
    has_accounts,
    list_accounts,
    remove_account,
    reset_password,
    set_role,
)
from services.accounts.roles import (
    ACTIONS,
    ADMIN,
    OPERATOR,
    VIEWER,
    NotAllowed,
    Person,
    SignInMethod,
    audit_fields,
    audit_identity,
    command_line_person,
    demo_person,
    may,
    refusal,
    require,
    system_person,
)
from services.accounts.sessions import (
    cookie_secret,
    end_session,
    end_sessions_of,
    resume_session,
    sign_token,
    start_session,
    unsign_token,
)

__all__ = [
    "ACTIONS",
    "ADMIN",
    "OPERATOR",
    "VIEWER",
    "Account",
    "AccountError",
    "AdmissionPolicy",
    "NotAllowed",
    "Person",
    "Refusal",
    "SignInMethod",
    "add_account",
    "admit",
    "audit_fields",
    "audit_identity",
    "authenticate",
    "command_line_person",
    "cookie_secret",
    "demo_person",
    "end_session",
    "end_sessions_of",
    "enforce",
    "get_account",
    "has_accounts",
    "list_accounts",
    "may",
    "refusal",
    "remove_account",
    "require",
    "reset_password",
    "resume_session",
    "set_role",
    "sign_token",
    "start_session",
    "system_person",
    "unsign_token",
]
