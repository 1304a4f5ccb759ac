"""`%clawdbot sim start`: the built-in simulator on loopback, with this kernel pointed at it.

Starting sets `ANTHROPIC_BASE_URL` for the kernel (so every client, OAuth refresh included,
talks to the simulator) and exports the demo credentials as `CLAWDBOT_SIM_API_KEY` and
`CLAWDBOT_SIM_SETUP_TOKEN`, so a cell can onboard them with `$CLAWDBOT_SIM_API_KEY` without a
secret in its source. By default it also moves the Clawdbot state dir (and Claude Code's config
dir) to a throwaway sandbox, so demo profiles never reach the real `~/.clawdbot`. Stopping puts
every variable back.

A sandbox holds an `auth-profiles.json`, so it never outlives its kernel: it is removed at stop,
at the kernel's exit (atexit), and, for a kernel that was killed, by the next `sim start` on the
machine (each sandbox's name carries the id of the process that made it).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SANDBOX_PREFIX = "clawdbot-nb-sandbox-"
_SANDBOX_NAME = re.compile(re.escape(SANDBOX_PREFIX) + r"(\d+)-")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


def remove_stale_sandboxes(folder: str | None = None) -> list[Path]:
    """Remove the sandboxes whose kernel is gone (killed before it could clean up); returns them."""
    removed = []
    root = Path(folder or tempfile.gettempdir())
    for path in root.glob(f"{SANDBOX_PREFIX}*"):
        match = _SANDBOX_NAME.match(path.name)
        if not match or not path.is_dir():
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not _process_alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


#: Variables the session changes, restored on stop.
_TOUCHED = (
    "ANTHROPIC_BASE_URL",
    "CLAWDBOT_SIM_API_KEY",
    "CLAWDBOT_SIM_SETUP_TOKEN",
    "CLAWDBOT_STATE_DIR",
    "CLAWDBOT_CONFIG_PATH",
    "CLAWDBOT_AGENT_DIR",
    "PI_CODING_AGENT_DIR",
    "CLAUDE_CONFIG_DIR",
)


@dataclass
class SimulatorSession:
    server: Any
    sandbox: str | None
    saved_env: dict[str, str | None] = field(default_factory=dict)

    @property
    def simulator(self) -> Any:
        return self.server.simulator

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @classmethod
    def start(cls, *, port: int = 0, latency: float | None = None, sandbox: bool = True) -> SimulatorSession:
        from clawdbot_nb import sim
        from clawdbot_nb.sim.clock import VirtualClock

        remove_stale_sandboxes()
        simulator = sim.Simulator(clock=VirtualClock(flowing=True), latency=latency)
        server = sim.start_server(simulator, port=port)
        folder = tempfile.mkdtemp(prefix=f"{SANDBOX_PREFIX}{os.getpid()}-") if sandbox else None
        session = cls(server, folder)
        atexit.register(session._remove_sandbox)
        session.saved_env = {name: os.environ.get(name) for name in _TOUCHED}
        os.environ["ANTHROPIC_BASE_URL"] = server.base_url
        # The cache watch keeps time as the simulator does (`sim advance` expires its entries too).
        from clawdbot_nb.api.cache_watch import use_clock_for

        use_clock_for(server.base_url, simulator.clock.now)
        os.environ["CLAWDBOT_SIM_API_KEY"] = sim.DEMO_API_KEY
        os.environ["CLAWDBOT_SIM_SETUP_TOKEN"] = sim.DEMO_SETUP_TOKEN
        if session.sandbox is not None:
            os.environ["CLAWDBOT_STATE_DIR"] = os.path.join(session.sandbox, "clawdbot")
            os.environ["CLAUDE_CONFIG_DIR"] = os.path.join(session.sandbox, "claude")
            for name in ("CLAWDBOT_CONFIG_PATH", "CLAWDBOT_AGENT_DIR", "PI_CODING_AGENT_DIR"):
                os.environ.pop(name, None)
        return session

    def stop(self) -> None:
        from clawdbot_nb.api.cache_watch import use_clock_for

        use_clock_for(self.base_url, None)
        self.server.stop()
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        atexit.unregister(self._remove_sandbox)
        self._remove_sandbox()

    def _remove_sandbox(self) -> None:
        if self.sandbox is not None:
            shutil.rmtree(self.sandbox, ignore_errors=True)

    def describe(self) -> str:
        from clawdbot_nb.state.credentials import mask_secret

        lines = [
            f"Simulator running at {self.base_url}; this kernel's requests go there (ANTHROPIC_BASE_URL).",
            f"Demo credentials: $CLAWDBOT_SIM_API_KEY ({mask_secret(os.environ['CLAWDBOT_SIM_API_KEY'])}), "
            f"$CLAWDBOT_SIM_SETUP_TOKEN ({mask_secret(os.environ['CLAWDBOT_SIM_SETUP_TOKEN'])}).",
        ]
        if self.sandbox is not None:
            lines.append(
                f"Sandbox state dir {os.environ['CLAWDBOT_STATE_DIR']}: your real profiles are untouched "
                "until `%clawdbot sim stop`."
            )
        return "\n".join(lines)
