"""A local simulator of the Anthropic HTTP API with prompt-caching semantics.

RULES_PLACEHOLDER
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clawdbot_nb.sim.clock import VirtualClock, parse_duration
    from clawdbot_nb.sim.core import SimRequest, SimResponse, Simulator
    from clawdbot_nb.sim.credentials import OAuthLogin, fingerprint, mask_secret
    from clawdbot_nb.sim.demo import (
        CLAUDE_CODE_CLIENT_ID,
        DEMO_API_KEY,
        DEMO_OAUTH_ACCESS_TOKEN,
        DEMO_OAUTH_REFRESH_TOKEN,
        DEMO_ORGANIZATION_ID,
        DEMO_SETUP_TOKEN,
        DEMO_WORKSPACE_ID,
    )
    from clawdbot_nb.sim.faults import Fault, FaultInjector
    from clawdbot_nb.sim.latency import LatencyModel
    from clawdbot_nb.sim.request_log import RequestLog, RequestRecord
    from clawdbot_nb.sim.server import SimServer, serve, start_server

# Public name → defining module. Loaded on first use so `import clawdbot_nb.sim` stays cheap.
_EXPORTS: dict[str, str] = {
    "Simulator": "core",
    "SimRequest": "core",
    "SimResponse": "core",
    "VirtualClock": "clock",
    "parse_duration": "clock",
    "OAuthLogin": "credentials",
    "fingerprint": "credentials",
    "mask_secret": "credentials",
    "Fault": "faults",
    "FaultInjector": "faults",
    "LatencyModel": "latency",
    "RequestLog": "request_log",
    "RequestRecord": "request_log",
    "SimServer": "server",
    "serve": "server",
    "start_server": "server",
    "CLAUDE_CODE_CLIENT_ID": "demo",
    "DEMO_API_KEY": "demo",
    "DEMO_OAUTH_ACCESS_TOKEN": "demo",
    "DEMO_OAUTH_REFRESH_TOKEN": "demo",
    "DEMO_ORGANIZATION_ID": "demo",
    "DEMO_SETUP_TOKEN": "demo",
    "DEMO_WORKSPACE_ID": "demo",
}

__all__ = [
    "CLAUDE_CODE_CLIENT_ID",
    "DEMO_API_KEY",
    "DEMO_OAUTH_ACCESS_TOKEN",
    "DEMO_OAUTH_REFRESH_TOKEN",
    "DEMO_ORGANIZATION_ID",
    "DEMO_SETUP_TOKEN",
    "DEMO_WORKSPACE_ID",
    "Fault",
    "FaultInjector",
    "LatencyModel",
    "OAuthLogin",
    "RequestLog",
    "RequestRecord",
    "SimRequest",
    "SimResponse",
    "SimServer",
    "Simulator",
    "VirtualClock",
    "fingerprint",
    "mask_secret",
    "parse_duration",
    "serve",
    "start_server",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clawdbot_nb.sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"clawdbot_nb.sim.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
