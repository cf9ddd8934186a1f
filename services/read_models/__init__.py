"""Read models: what the pages show that combines several domains (the work queue, a channel's timeline, the
clients view, the channel list, the day's picture, the redirects as the Redirects, Connect and landing pages show
them). They sit above every domain package and nothing below imports
them (docs/architecture.md, "Layers")."""
