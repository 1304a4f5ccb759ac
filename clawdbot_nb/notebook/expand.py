"""Filling `$NAME` and `{name}` into magic lines and prompts, and spotting secrets typed into cells.

`$NAME` (or `${NAME}`) takes a notebook variable, else an environment variable, so a key never
has to be typed into a cell that the notebook saves. `{name}` and `{name[i]}` take notebook
variables (`{In[3]}`, `{Out[4]}` included); unknown names are left as written, and `{{` / `}}`
are literal braces. Nothing is evaluated: no attribute access, no calls.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from clawdbot_nb.errors import UsageError

_DOLLAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_BRACES = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?:\[(-?\d+)\])?\}")


def expand_dollars(text: str, namespace: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str:
    """`$NAME` → the notebook variable NAME, else the environment variable; `$$` → `$`."""
    env = os.environ if env is None else env

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        if name in namespace:
            return str(namespace[name])
        if name in env:
            return env[name]
        raise UsageError(
            f"${name} is not set: there is no notebook variable or environment variable {name}.",
            fix=f"set {name} in the environment before starting Jupyter (or in a variable), or use "
            "%clawdbot onboard for a hidden prompt; write $$ for a literal $",
        )

    return _DOLLAR.sub(replace, text)


def interpolate(text: str, namespace: Mapping[str, Any]) -> str:
    """`{name}` / `{name[i]}` from the notebook's variables; anything else stays as written."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name, index = match.group(1), match.group(2)
        if name not in namespace:
            return token
        value = namespace[name]
        if index is not None:
            try:
                value = value[int(index)]
            except (IndexError, KeyError, TypeError):
                return token
        return str(value)

    return _BRACES.sub(replace, text)


def secret_literals(source: str) -> list[str]:
    """Secret-shaped literals in a cell's source (what the saved notebook would keep)."""
    from clawdbot_nb.state.redaction import full_secrets

    return full_secrets(source)
