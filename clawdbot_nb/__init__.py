"""clawdbot_nb: Claude from a notebook, sharing auth profiles with a Clawdbot gateway.

    import clawdbot_nb as cb
    with cb.Workspace() as ws:
        print(ws.ask("Hello", ttl="1h").footer())

`%load_ext clawdbot_nb` adds the `%clawdbot` magics. Importing this package is cheap: the names
below load on first use, and the heavy libraries (anthropic, pandas, ipywidgets) only when a
feature needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: The public names, and the module each one lives in.
_EXPORTS = {
    "Workspace": "clawdbot_nb.api.workspace",
    "Reply": "clawdbot_nb.api.reply",
    "ReplyStream": "clawdbot_nb.api.streaming",
    "AsyncReplyStream": "clawdbot_nb.api.streaming",
    "Ledger": "clawdbot_nb.api.ledger",
    "models_status": "clawdbot_nb.state.status",
    "AgentState": "clawdbot_nb.state.agent",
    "ClawdbotError": "clawdbot_nb.errors",
}
_SUBMODULES = ("sim", "catalog")

__all__ = [
    "AgentState",
    "AsyncReplyStream",
    "ClawdbotError",
    "Ledger",
    "Reply",
    "ReplyStream",
    "Workspace",
    "__version__",
    "catalog",
    "load_ipython_extension",
    "models_status",
    "sim",
    "unload_ipython_extension",
]

if TYPE_CHECKING:
    from clawdbot_nb import catalog, sim
    from clawdbot_nb.api.ledger import Ledger
    from clawdbot_nb.api.reply import Reply
    from clawdbot_nb.api.streaming import AsyncReplyStream, ReplyStream
    from clawdbot_nb.api.workspace import Workspace
    from clawdbot_nb.errors import ClawdbotError
    from clawdbot_nb.state.agent import AgentState
    from clawdbot_nb.state.status import models_status


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"clawdbot_nb.{name}")
    else:
        raise AttributeError(f"module 'clawdbot_nb' has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(shell):
    """`%load_ext clawdbot_nb`."""
    from clawdbot_nb.notebook.extension import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell):
    """`%unload_ext clawdbot_nb`."""
    from clawdbot_nb.notebook.extension import unload_ipython_extension as unload

    unload(shell)
