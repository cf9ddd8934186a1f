"""Alerts that reach people where they already are, evaluated by the scheduler from the console database.

`rules` names each condition (quality or limit drop, left running, stuck, running without a key, revoked, key
permission changed, account violation or restriction, a failed key step, receiver refusals, no partner event, a
failed sync) and finds it in the database, with its severity (critical or warning); `ledger` keeps one alert per
subject and condition until it resolves (news again when it gets worse) and composes what to send (a critical alert
at once, whatever the cap and the digest; the rest one message per rule, a digest, or a summary of what the hourly
cap held back), and says what waits and until when; `handling` acknowledges and snoozes an alert; `wording` says
what happened, what to do and where to look; `destinations` reads CONSOLE_ALERT_URLS and sends through apprise, once
`transports` has made what others wrote inert for each destination; `delivery` sends what is due, retried with
backoff, and the test alert; `rounds` is one evaluation, as the scheduler runs it every CONSOLE_ALERT_CHECK_SECONDS.
"""
