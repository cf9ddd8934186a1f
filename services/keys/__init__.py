"""Messaging API keys: generated through the Partner API, shown once, stored encrypted.

`generation` makes one key (once per click, every attempt audited), `bulk` many at once, `vault` encrypts
them at rest, `key_api` opens a stored one for a Messaging API call, `generation_lock` keeps two processes
from generating for the same channel at once, `readiness` makes a new key ready to use, `health` is the
key-health program. `key_status` reads a key's status from the database alone (no vault), so the scheduler's
alert rules may use it.
"""
