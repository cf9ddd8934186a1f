"""The sandbox hub: our stand-in for 360dialog in demo mode.

`uvicorn --factory services.sandbox.server:app_from_settings` runs it.

`server` serves the IO pages and wires the rest, `partner_api` the Partner API and Messaging API endpoints,
`admin` the demo controls and `inbox` the demo's alert inbox (neither part of 360dialog), `hub` its
connection, credentials and webhook delivery, `state` its own SQLite file, `scenario` the realistic demo data,
`signing` its own reading of the two signatures. It never imports the console's domain packages: the console
reaches it only over HTTP.
"""
