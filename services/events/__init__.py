"""Partner webhook events: reading bodies, checking signatures, storing and reading them back.

`webhook` reads a body into events (defensive about nesting), `signature` checks `x-360dialog-signature`,
`incoming` is the receiver's cheap durable write (services.channels.event_listing lists it), `store` the events
table itself, `search` the Events page's full-text query, `console_search` the one search the Events, Channels and
Clients pages share (what was typed, read once, as SQL over channels and clients). Events know nothing of the
channels package: the layers contract keeps them below it.
"""
