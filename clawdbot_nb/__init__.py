"""clawdbot_nb: Claude from a notebook, sharing auth profiles with a Clawdbot gateway.

`%load_ext clawdbot_nb` adds the `%clawdbot` magics. Importing this package is cheap: the
heavy libraries (anthropic, pandas, ipywidgets) load only when a feature needs them.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load_ipython_extension(shell):
    """`%load_ext clawdbot_nb`."""
    from clawdbot_nb.notebook.extension import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell):
    """`%unload_ext clawdbot_nb`."""
    from clawdbot_nb.notebook.extension import unload_ipython_extension as unload

    unload(shell)
