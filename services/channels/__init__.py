"""Channels and clients as the console knows them.

`projection` is the one place channel rows change (webhooks, redirects, Partner API syncs, with the
lifecycle rules); `sync` reconciles with the Partner API; `query` is the table the ops team reads;
`attention` what needs someone; `timeline` everything that happened to one channel; `templates` the template
events that reach channels through their WABA; `endings` a channel cancelled or terminated at 360dialog.
"""
