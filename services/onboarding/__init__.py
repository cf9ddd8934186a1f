"""Onboarding: the IO links handed out and the redirects that come back.

`io_link` builds the link, `io_signature` signs it, `links` keeps the links handed out and `link_clicks` signs a
fresh one at each click. A redirect back: `redirect_params` reads what IO sends (untrusted), `redirect_store`
stores it, `redirect_decision` decides whether it may change anything and applies it. How the pages show
redirects is in services.read_models.redirects.

`partner_setup` is the command (`python -m services.onboarding.partner_setup`) that tells 360dialog where to
send both back: the webhook URL and the redirect URL.
"""
