"""The console's side of demo mode: talking to the sandbox hub over HTTP, never importing it.

`hub_client` is the HTTP client for the hub's demo controls, `controls` what the console stores when the
hub acts (a redirect, a reset), `scenario` loads the realistic demo (`python -m services.demo.scenario`).
"""
