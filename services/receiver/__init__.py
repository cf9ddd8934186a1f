"""The webhook receiver: the one process 360dialog reaches.

`uvicorn --factory services.receiver.server:app_from_settings` runs it.

`server` is the ASGI app: it checks each request and answers only after the write is committed. Storage
sits behind one small interface, `writer.WriterProcess`, which runs `writer_main` in a process of its own
(frames over a socket pair, `frames`); there `group_commit` stores what arrived together in one transaction.
`stats` holds the counters and refusal log the Receiver health page reads; `request_log` the one line per
request. The design is in docs/receiver.md. It imports nothing from the operators' side.
"""
