"""`clawdbot-nb`: a thin argparse front-end over state/ and api/, mirroring Clawdbot's commands.

Each command group lives beside the code it drives and registers itself here; this module
only builds the parser, runs the chosen handler and turns a `ClawdbotError` into one line on
stderr and exit code 1 (never a traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from clawdbot_nb.errors import ClawdbotError, on_surface

PROG = "clawdbot-nb"


Registrar = Callable[[argparse._SubParsersAction], None]


def shared_registrars() -> list[Registrar]:
    """The command groups the CLI and the `%clawdbot` magic have in common."""
    # Imported here, not at module top, so `clawdbot-nb --help` stays cheap and each group
    # keeps its own heavy imports inside its handlers.
    from clawdbot_nb.commands import ask as ask_commands
    from clawdbot_nb.commands import auth as auth_commands
    from clawdbot_nb.commands import cache as cache_commands
    from clawdbot_nb.commands import chat as chat_commands
    from clawdbot_nb.commands import scale as scale_commands

    # cache after ask: it adds --what-if to ask's `usage`.
    return [
        auth_commands.register,
        ask_commands.register,
        cache_commands.register,
        scale_commands.register,
        chat_commands.register,
    ]


def _registrars() -> list[Registrar]:
    from clawdbot_nb.sim import cli as sim_cli

    return [*shared_registrars(), sim_cli.register]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("clawdbot_nb")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


class SafeArgumentParser(argparse.ArgumentParser):
    """argparse echoes unknown arguments in its errors; a secret pasted there is masked first."""

    def error(self, message: str) -> NoReturn:
        from clawdbot_nb.state.redaction import redact

        super().error(redact(message))


def build_parser(prog: str = PROG, registrars: Sequence[Registrar] | None = None) -> argparse.ArgumentParser:
    """The command parser; the `%clawdbot` magic builds it with its own prog and registrars."""
    parser = SafeArgumentParser(
        prog=prog,
        description="Claude from a notebook: Clawdbot-compatible auth profiles, cached prompts, usage.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _registrars() if registrars is None else registrars:
        register(subparsers)
    return parser


def _stdout_gone() -> int:
    """The reader of our output went away (`clawdbot-nb models status | head`): stop quietly.

    Python would otherwise complain again when it flushes stdout at exit, so stdout is pointed
    at /dev/null first. 141 is what a shell reports for a command ended by SIGPIPE.
    """
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 141


def _tolerate_odd_text() -> None:
    # A profile id or a path can hold characters the terminal's encoding cannot show: show
    # them escaped rather than fail half-way through the output.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    from clawdbot_nb.state.redaction import redact_line

    _tolerate_odd_text()
    debug = False
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        debug = args.debug
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 2
        with on_surface("cli"):
            code = int(handler(args) or 0)
        sys.stdout.flush()  # a closed pipe is noticed here, not at exit
        return code
    except ClawdbotError as error:
        if debug:
            raise
        print(f"{PROG}: error: {redact_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _stdout_gone()
    except Exception as error:  # a bug: say so in one line, never a traceback unless asked
        if debug:
            raise
        detail = redact_line(f"{type(error).__name__}: {error}")[:300]
        print(
            f"{PROG}: internal error: {detail} Fix: this is a bug in clawdbot-nb; rerun with "
            f"{PROG} --debug ... to see where, and report it",
            file=sys.stderr,
        )
        return 1
