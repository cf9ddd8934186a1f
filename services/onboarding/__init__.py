"""Onboarding: the IO links handed out and the redirects that come back.

`io_link` builds the link, `io_signature` signs it, `redirect` parses what IO sends back (untrusted),
`links` keeps the links handed out, `redirects` stores the redirects received and what they mean per channel.

`partner_setup` is the command (`python -m services.onboarding.partner_setup`) that tells 360dialog where to
send both back: the webhook URL and the redirect URL.
"""
