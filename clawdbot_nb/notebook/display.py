"""Showing replies in a notebook: streamed text in three modes, the usage footer, one-line errors.

Stream modes (`%config ClawdbotMagics.stream_mode`): `update` re-renders one Markdown output as
text arrives (JupyterLab, Notebook 7); `append` writes plain text chunks (everywhere, including
front-ends whose display updates are unreliable); `final` shows the reply once, when complete.
Terminal IPython cannot update a display in place (each update would print the whole reply
again), so there `update` streams as `append` does: each new piece written once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

from clawdbot_nb.rendering import html_text, markdown_text

STREAM_MODES = ("update", "append", "final")
#: Re-render at most this often in `update` mode, so long replies do not flood the front-end.
UPDATE_INTERVAL_S = 0.05


def in_kernel() -> bool:
    """Whether IPython runs as a Jupyter kernel (a front-end that renders rich output and can
    update a display), not terminal IPython or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _bundle(text: str) -> dict[str, str]:
    # Markdown for notebooks, the plain text for terminals and saved text outputs.
    return {"text/markdown": markdown_text(text), "text/plain": text}


def show_stream(chunks: Iterable[str], mode: str) -> str:
    """Show `chunks` as they arrive; return the whole text."""
    from IPython.display import display

    parts: list[str] = []
    if mode == "update" and not in_kernel():
        mode = "append"
    if mode == "append":
        for chunk in chunks:
            parts.append(chunk)
            sys.stdout.write(chunk)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return "".join(parts)
    if mode == "final":
        parts.extend(chunks)
        text = "".join(parts)
        display(_bundle(text), raw=True)
        return text
    handle = display(_bundle(""), raw=True, display_id=True)
    last = 0.0
    for chunk in chunks:
        parts.append(chunk)
        now = time.monotonic()
        if now - last >= UPDATE_INTERVAL_S:
            handle.update(_bundle("".join(parts)), raw=True)
            last = now
    text = "".join(parts)
    handle.update(_bundle(text), raw=True)
    return text


def show_footer(reply: Any) -> None:
    """The usage line under a reply (plain text and a small HTML line), and any notes."""
    from IPython.display import display

    footer = reply.footer()
    notes = reply.notes()
    plain = "\n".join([f"— {footer}", *(f"⚠ {note}" for note in notes)])
    if not in_kernel():  # a terminal: the plain lines, wrapped between the footer's parts
        import shutil

        from clawdbot_nb.rendering import wrap_parts

        width = shutil.get_terminal_size().columns
        print("\n".join([wrap_parts(f"— {footer}", width), *(f"⚠ {note}" for note in notes)]))
        return
    rich = f'<div class="clawdbot-footer" style="font-size:smaller;opacity:0.8">{html_text(footer)}</div>'
    rich += "".join(
        f'<div style="font-size:smaller;color:#a15c00">⚠ {html_text(note)}</div>' for note in notes
    )
    display({"text/plain": plain, "text/html": rich}, raw=True)


def show_error(error: BaseException) -> None:
    """One readable line on stderr (red in Jupyter), with the fix; never a traceback.

    Anything shaped like a key or token in the text is masked first.
    """
    from clawdbot_nb.errors import ClawdbotError
    from clawdbot_nb.state.redaction import redact

    if isinstance(error, ClawdbotError):
        text = str(error)
    else:
        text = (
            f"unexpected {type(error).__name__}: {error} "
            "(run %config ClawdbotMagics.debug = True and re-run the cell for the traceback)"
        )
    print(f"clawdbot: {redact(' '.join(text.split()))}", file=sys.stderr)
