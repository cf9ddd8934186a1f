"""Channels and clients as the console knows them.

`projection` is the one place channel rows change (webhooks, redirects, Partner API syncs, with the
lifecycle rules); `event_listing` moves the receiver's incoming events into the events table and projects them;
`sync` reconciles with the Partner API; `templates` the template events that reach channels through their WABA;
`endings` a channel cancelled or terminated at 360dialog. The views that combine channels with other domains
(the channel list, the work queue, a channel's timeline) are in services.read_models.
"""
