"""Key health, all the time: every active key's `health_status` asked again on a schedule, in a process of its own
(`python -m services.keys.health`), since a key can stop working with no event (contract section 7).

`checks` runs one round (enrol new keys, lease the due ones, ask, record what changed), `reading` is what pages,
the work queue and the timeline read of it, `process` the loop and its status row.
"""
