"""One-line notices on stderr while a command works (waiting for a lock, breaking a stale one).

They go to `sys.stderr` as it is at the moment of the notice, so a terminal shows them and a
notebook shows them in the cell's output, with no code of the front-end involved. Secrets are
masked, as in every other output.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

_sinks: list[Callable[[str], None]] = []


def notify(text: str) -> None:
    """Say `text` as one line, prefixed with the command in use (`clawdbot-nb:` / `clawdbot:`)."""
    from clawdbot_nb.errors import current_surface
    from clawdbot_nb.state.redaction import redact_line

    prefix = "clawdbot" if current_surface() == "magic" else "clawdbot-nb"
    line = f"{prefix}: {redact_line(text)}"
    if _sinks:
        _sinks[-1](line)
        return
    with contextlib.suppress(OSError, ValueError):  # no stderr (closed, a daemon): stay quiet
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def collected_notices() -> Iterator[list[str]]:
    """Collect the notices of the block in a list instead of printing them (for tests, widgets)."""
    lines: list[str] = []
    _sinks.append(lines.append)
    try:
        yield lines
    finally:
        _sinks.remove(lines.append)
