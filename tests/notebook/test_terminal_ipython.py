"""The magics in terminal IPython for real: `ipython` on an 80-column pseudo-terminal, typed into
as a person would. A streamed reply is written once, plots become PNG files, tables fit."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty"), pytest.mark.slow]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


class IPythonTerminal:
    """`ipython` with the plain prompt, on a pty of 80 columns."""

    def __init__(self, env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:
            argv = [sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner", "--colors=NoColor"]
            os.execve(sys.executable, argv, env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.pid, self.fd, self.seen, self.count = pid, fd, "", 0

    def run(self, line: str, timeout: float = 60) -> str:
        """Type `line`, wait for the next prompt, and return what the screen showed in between."""
        self.count += 1
        start = len(self.seen)
        os.write(self.fd, line.encode() + b"\r")
        prompt = f"In [{self.count + 1}]: "
        deadline = time.monotonic() + timeout
        while prompt not in self.seen[start:]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no prompt after {line!r}; screen:\n{self.seen[start:]}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                self.seen += ANSI.sub("", os.read(self.fd, 65536).decode(errors="replace"))
        shown = self.seen[start:]
        return shown[shown.index("\n") + 1 : shown.index(prompt)] if "\n" in shown else ""

    def close(self) -> None:
        import signal

        os.write(self.fd, b"\rexit\r")
        deadline = time.monotonic() + 20
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            with contextlib.suppress(OSError):  # keep the pty drained so the shell can exit
                if select.select([self.fd], [], [], 0.1)[0]:
                    os.read(self.fd, 65536)
        os.close(self.fd)


@pytest.fixture
def terminal(isolated_home: Path, tmp_path: Path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "IPYTHONDIR": str(isolated_home / ".ipython"), "TERM": "xterm"}
    term = IPythonTerminal(env)
    term.run("%load_ext clawdbot_nb")
    term.run("%clawdbot sim start")
    term.run(
        "%clawdbot onboard --non-interactive --auth-choice apiKey --anthropic-api-key $CLAWDBOT_SIM_API_KEY"
    )
    yield term
    term.close()


def test_a_streamed_reply_is_written_once_with_its_footer(terminal: IPythonTerminal) -> None:
    # Built in the shell: a terminal line holds at most 4,095 characters.
    terminal.run('doc = "A long, stable document about prompt caching and cache breakpoints. " * 60')
    shown = terminal.run("%clawdbot ask 'What is a cache breakpoint?' --system {doc} --stream")
    assert shown.count('Simulated reply to: "What is a cache breakpoint?"') == 1, shown
    assert re.search(r"— write · in \d+ .* extra \$0\.\d{4}", " ".join(shown.split())), shown
    footer = shown[shown.index("— write") :].strip().splitlines()
    assert 1 < len(footer) <= 3 and max(map(len, footer)) <= 80, footer  # wrapped between its parts
    assert "<IPython" not in shown and "<div" not in shown
    cell = terminal.run("%%clawdbot --system {doc}\nWhat is a cache breakpoint?\n\n")  # blank lines end it
    assert cell.count("Simulated reply to:") == 1 and "— hit · " in cell, cell


def test_usage_fits_the_terminal_and_a_plot_is_saved_as_a_png(
    terminal: IPythonTerminal, tmp_path: Path
) -> None:
    terminal.run("%clawdbot ask 'One question'")
    terminal.run("%clawdbot ask 'One question'")
    table = terminal.run("%clawdbot usage")
    lines = [line for line in table.splitlines() if line.strip()]
    assert lines[0] == "Out[6]: " and lines[1].startswith("#  TTL  cache read"), table
    assert max(map(len, lines)) <= 80, table
    assert lines[-1].startswith("2 calls · ") and "Empty DataFrame" not in table
    plot = terminal.run("%clawdbot usage --plot")
    match = re.search(r"Plot saved to (\S+\.png) ", plot)
    assert match and "<IPython.core.display.Image object>" not in plot, plot
    assert Path(match.group(1)).read_bytes().startswith(b"\x89PNG")
