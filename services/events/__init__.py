"""Partner webhook events: reading bodies, checking signatures, storing and reading them back.

`webhook` reads a body into events (defensive about nesting), `signature` checks `x-360dialog-signature`,
`incoming` is the receiver's cheap durable write and its later listing, `store` the events table itself.
"""
