"""Read models: what the pages show that combines several domains (the work queue, a channel's timeline, the
clients view, the channel list, the day's picture). They sit above every domain package and nothing below imports
them (docs/architecture.md, "Layers")."""
