"""What `%load_ext clawdbot_nb` adds to IPython's start-up: fresh processes that start an
IPython shell, with and without loading the extension, alternated; medians and their ratio.
Goal: at most 25 ms added.

    python3 dev.py bench load
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

RUNS = 15
BARE = (
    "import time; t = time.perf_counter(); "
    "from IPython.core.interactiveshell import InteractiveShell; shell = InteractiveShell.instance(); "
    "print(time.perf_counter() - t)"
)
LOADED = BARE.replace("print(", "shell.run_line_magic('load_ext', 'clawdbot_nb'); print(")
EXTENSION_ONLY = (
    "from IPython.core.interactiveshell import InteractiveShell; shell = InteractiveShell.instance(); "
    "import time; t = time.perf_counter(); shell.run_line_magic('load_ext', 'clawdbot_nb'); "
    "print(time.perf_counter() - t)"
)


# Measured as users run it: with compiled bytecode cached (some sandboxes turn that off).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def seconds(code: str) -> float:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=ENV)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    seconds(LOADED)  # writes the bytecode caches
    bare, loaded, extension = [], [], []
    for _ in range(RUNS):
        bare.append(seconds(BARE))
        loaded.append(seconds(LOADED))
        extension.append(seconds(EXTENSION_ONLY))
    bare_ms = statistics.median(bare) * 1000
    loaded_ms = statistics.median(loaded) * 1000
    print(f"IPython shell start:                {bare_ms:7.1f} ms (median of {RUNS} processes)")
    print(f"IPython shell start + %load_ext:    {loaded_ms:7.1f} ms")
    print(f"added by the extension:             {loaded_ms - bare_ms:7.1f} ms (goal <= 25 ms)")
    print(f"%load_ext alone, timed in-process:  {statistics.median(extension) * 1000:7.1f} ms")
    print(f"ratio to bare IPython:              {loaded_ms / bare_ms:7.3f}x")


if __name__ == "__main__":
    main()
