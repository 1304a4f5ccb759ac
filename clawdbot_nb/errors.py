"""Errors a user can act on: each says what went wrong and the fix, in one line.

Every layer raises subclasses of `ClawdbotError`; the CLI prints them as one line and exits 1,
the notebook shows them as one line (the traceback only with `--debug`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: Where the user is talking to us: "python" (the API), "cli" (`clawdbot-nb`) or "magic"
#: (`%clawdbot`). Fixes name commands in the words of that surface.
SURFACES = ("python", "cli", "magic")
_surface: ContextVar[str] = ContextVar("clawdbot_nb_surface", default="python")
_COMMAND_PREFIX = {"python": "clawdbot-nb", "cli": "clawdbot-nb", "magic": "%clawdbot"}


def current_surface() -> str:
    return _surface.get()


@contextmanager
def on_surface(name: str) -> Iterator[None]:
    """Errors raised inside speak the words of `name` (the CLI and the magic wrap their handlers)."""
    if name not in SURFACES:
        raise ValueError(f"unknown surface {name!r}")
    token = _surface.set(name)
    try:
        yield
    finally:
        _surface.reset(token)


def command(args: str) -> str:
    """`models status` as the user would type it here: `clawdbot-nb models status` in a terminal
    (and from Python, where the fix is a terminal command), `%clawdbot models status` in a notebook."""
    return f"{_COMMAND_PREFIX[_surface.get()]} {args}"


def fix_for(*, python: str, cli: str | None = None, magic: str | None = None) -> str:
    """The fix in the words of the current surface; CLI wording serves the magic unless given."""
    surface = _surface.get()
    if surface == "magic":
        return magic or cli or python
    if surface == "cli":
        return cli or python
    return python


class ClawdbotError(Exception):
    """A failure with a message a user can read and a fix they can apply.

    `path`, `line` and `column` locate the problem in a file when there is one.
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        text = f"{where}{self.message}"
        if self.fix:
            # Many messages are clauses ("the store path is a directory, not a file"): the fix
            # starts a new sentence either way.
            if not text.rstrip().endswith((".", "!", "?", "…")):
                text = text.rstrip() + "."
            text += f" Fix: {self.fix}"
        # Messages quote what the user typed or a file held: a secret in there is masked.
        from clawdbot_nb.state.redaction import redact

        return redact(text)


class ParseError(ClawdbotError):
    """A state file that cannot be read as what it should be; it is left untouched."""


class LockTimeoutError(ClawdbotError):
    """Another process held a state-file lock for longer than we retry."""


class CredentialError(ClawdbotError):
    """A pasted or stored credential that is malformed or of the wrong kind."""


class NoCredentialsError(ClawdbotError):
    """An agent or a named profile has no usable credential."""


class NoAvailableProfileError(ClawdbotError):
    """Every profile of the provider is cooling down, disabled or expired."""


class UsageError(ClawdbotError):
    """A bad argument: unknown model, TTL, agent id and the like."""
