"""`%load_ext clawdbot_nb`: register the `%clawdbot` magics; `%unload_ext` removes them again.

Loading imports only IPython's own magic machinery and this package's light modules; the SDK,
pandas and ipywidgets load in a background thread afterwards (so the first prompt does not wait
for them) or when first used.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

#: The magics registered in each shell, so loading twice does nothing and unloading finds them.
_registered: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
#: Modules worth having in memory before the first prompt; imported off the main thread.
PREIMPORT = ("anthropic", "httpx2", "pandas", "clawdbot_nb.api.workspace")


def _preimport() -> None:
    import importlib

    for name in PREIMPORT:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional library shows up, clearly, when first used
            pass


def load_ipython_extension(shell: Any) -> None:
    if shell in _registered:
        return
    from clawdbot_nb.notebook.magics import ClawdbotMagics

    magics = ClawdbotMagics(shell=shell)
    shell.register_magics(magics)
    _registered[shell] = magics
    threading.Thread(target=_preimport, name="clawdbot-nb-preimport", daemon=True).start()


def unload_ipython_extension(shell: Any) -> None:
    magics = _registered.pop(shell, None)
    if magics is None:
        return
    if magics.simulator_session is not None:
        magics.stop_simulator()
    magics.forget_workspaces()
    manager = shell.magics_manager
    for kind in ("line", "cell"):
        if manager.magics[kind].get("clawdbot") == magics.clawdbot:
            del manager.magics[kind]["clawdbot"]
    manager.registry.pop(type(magics).__name__, None)
    if magics in shell.configurables:
        shell.configurables.remove(magics)


def magics_of(shell: Any) -> Any:
    """The `ClawdbotMagics` registered in `shell` (None when the extension is not loaded)."""
    return _registered.get(shell)
