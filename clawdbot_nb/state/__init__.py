"""The Clawdbot-compatible world on disk: paths, config, the auth-profile store and its lock,
credential types, Claude Code CLI credentials, ordering and cooldown math, `models status`.

No network, no IPython and no pandas at import.
"""
