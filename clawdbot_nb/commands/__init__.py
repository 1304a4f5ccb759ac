"""`clawdbot-nb` command groups; each module registers its subcommands on the parser."""
