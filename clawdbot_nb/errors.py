"""Errors a user can act on: each says what went wrong and the fix, in one line.

Every layer raises subclasses of `ClawdbotError`; the CLI prints them as one line and exits 1,
the notebook shows them as one line (the traceback only with `--debug`).
"""

from __future__ import annotations

import os


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
            text += f" Fix: {self.fix}"
        return text


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
