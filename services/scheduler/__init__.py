"""The scheduler: a plain Python process that reconciles channels with the Partner API every
CONSOLE_SYNC_MINUTES and sends alerts (`python -m services.scheduler`).

`loop` is the process itself (the interval, one run at a time through services.channels.sync_runs, failures
recorded and survived, SIGTERM/SIGINT); `alerting` its second loop, an alert round (services.alerts) every
CONSOLE_ALERT_CHECK_SECONDS; `status` is what it tells the others about itself (alive since when, how often,
next run), which the stack waits on and the Receiver health page shows.
"""
