"""Talking to Anthropic through the official `anthropic` SDK: clients per credential, OAuth
refresh, the cache planner, failover across profiles, the usage ledger, prices and cost."""
