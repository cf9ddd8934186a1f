"""The scheduler: a plain Python process that reconciles channels with the Partner API every
CONSOLE_SYNC_MINUTES (`python -m services.scheduler`).

`loop` is the process itself (the interval, one run at a time through services.channels.sync_runs, failures
recorded and survived, SIGTERM/SIGINT); `status` is what it tells the others about itself (alive since when,
how often, next run), which the stack waits on and the Receiver health page shows.
"""
