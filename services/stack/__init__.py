"""The stack: every process of the console started together and stopped together (`python -m services.stack`,
which `make run` calls).

`commands` says what runs: each process's command line (the receiver's and the hub's uvicorn flags among them),
its health check, and which processes the mode and the settings call for; `supervisor` starts them in order,
waits for each to answer (or, for the scheduler and key health, to record that it has started), prints the URL
to open, and stops them all when one stops or on Ctrl-C.
"""
