"""A private JupyterLab 4 for the browser tests, and a Chromium page driving it as a person would.

`JupyterLab.start(root)` runs `jupyter lab` on loopback with HOME, the Clawdbot/Claude state dirs
and every Jupyter/IPython dir inside `root/home` (never the real home), no token, widget state
saved with the notebook and Lab's autosave every few seconds. `browser()` launches Debian's
`chromium` through Playwright (which cannot download a browser of its own here).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dev

#: How often Lab saves an open notebook on its own, in seconds (its default is 120).
AUTOSAVE_INTERVAL_S = 3
#: What the machine's Chromium needs to start headless as root without reaching the network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Lab's settings for the test user: widget state saved into the .ipynb (what leaks a synced
#: password), frequent autosave, and no news or update checks (the machine has no network).
USER_SETTINGS = {
    "@jupyter-widgets/jupyterlab-manager/plugin": {"saveState": True},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": True, "autosaveInterval": AUTOSAVE_INTERVAL_S},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell stays in the page, so the tests (and screenshots) find cells below the fold.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class JupyterLab:
    process: subprocess.Popen[bytes]
    url: str
    root: Path
    home: Path
    env: dict[str, str]
    log: Path

    @classmethod
    def start(cls, root: Path, *, extra_env: dict[str, str] | None = None) -> JupyterLab:
        home = root / "home"
        work = home / "notebooks"  # the notebooks are saved under HOME too: all of it is checked
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        env = {**dev.demo_environment(home), **(extra_env or {})}
        # The venv's python runs the server, the kernels (the `python3` kernel is this interpreter)
        # and `%pip`; nothing from the user's site.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["JUPYTERLAB_SETTINGS_DIR"] = str(home / ".jupyter" / "lab" / "user-settings")
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / ".jupyter" / "lab" / "workspaces")
        for name, settings in USER_SETTINGS.items():
            path = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))
        port = _free_port()
        log = root / "jupyter-lab.log"
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={work}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.log_level=WARN", "--ServerApp.allow_root=True",
        ]  # fmt: skip
        with log.open("wb") as sink:
            process = subprocess.Popen(command, env=env, cwd=work, stdout=sink, stderr=subprocess.STDOUT)
        lab = cls(process, f"http://127.0.0.1:{port}", work, home, env, log)
        lab._wait_until_up()
        return lab

    def _wait_until_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {self.log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"jupyter lab did not answer in {timeout}s: {self.log.read_text(errors='replace')}"
        )

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                for kernel in self.api("kernels"):  # shut kernels down cleanly: their atexit runs
                    self.api(f"kernels/{kernel['id']}", method="DELETE")
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def browser(user_data_dir: Path, *, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium (Debian's) under Playwright, with an empty profile in `user_data_dir`;
    yields its Playwright `BrowserContext`."""
    from playwright.sync_api import sync_playwright

    user_data_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # Playwright passes the profile folder as --user-data-dir itself.
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=chromium_path(),
            args=list(CHROMIUM_FLAGS),
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()


# -- a notebook page, driven with the keyboard and the mouse ------------------------------------------

#: A code cell whose prompt shows its execution count has finished running.
_DONE = r"^\[\d+\]:$"


class NotebookPage:
    """One notebook open in Lab: cells found by index, run with Shift+Enter, saved with Ctrl+S."""

    def __init__(self, page: Any, lab: JupyterLab, name: str, shots: Path) -> None:
        self.page, self.lab, self.name, self.shots = page, lab, name, shots
        page.goto(f"{lab.url}/lab/tree/{name}?reset")  # a fresh workspace: only this notebook
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)

    def accept_kernel_choice(self) -> None:
        """Lab asks which kernel to start when it opened the notebook before it knew the machine's
        kernels (a busy machine): the choice it offers is the notebook's own, Python 3; a person
        presses Select."""
        dialog = self.page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():
            dialog.locator(".jp-mod-accept").click()
            dialog.wait_for(state="detached")
            self.page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)

    def keep_this_version(self) -> None:
        """Lab asks whether to overwrite the file when two of its own saves overlap (Ctrl+S while
        an autosave is under way, on a busy machine): the version open in the page is the one
        the person just saved, so they press Overwrite."""
        dialog = self.page.locator(".jp-Dialog", has_text="File Changed")
        if dialog.count():
            dialog.get_by_role("button", name="Overwrite").click()
            dialog.wait_for(state="detached")

    @property
    def cells(self) -> Any:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Any:
        return self.cells.nth(index)

    def output(self, index: int) -> Any:
        return self.cell(index).locator(".jp-Cell-outputArea")

    def run(self, index: int, *, code: bool = True, timeout_s: float = 60) -> Any:
        """Select cell `index` (command mode), press Shift+Enter, wait until it has run.

        A press that lands while the kernel is still connecting is dropped by Lab: the cell then
        shows no `[*]`, and it is pressed again."""
        from playwright.sync_api import expect

        cell = self.cell(index)
        prompt = cell.locator(".jp-InputArea .jp-InputPrompt")
        for _ in range(5):
            self.accept_kernel_choice()
            self.keep_this_version()
            dialog = self.page.locator(".jp-Dialog")
            if dialog.count():
                raise AssertionError(f"a dialog is open: {dialog.inner_text()!r}")
            try:
                cell.locator(".jp-InputPrompt").first.click(timeout=10_000)
            except Exception:
                self.shot(f"failed-selecting-cell-{index}")
                dialog = self.page.locator(".jp-Dialog")
                raise AssertionError(
                    f"cannot select cell {index}; dialog: {dialog.all_inner_texts()!r}"
                ) from None
            self.page.keyboard.press("Escape")
            self.page.keyboard.press("Shift+Enter")
            if not code:
                return cell
            try:
                expect(prompt).to_have_text(re.compile(r"^\[(\*|\d+)\]:$"), timeout=3000)
                break
            except AssertionError:
                continue
        try:
            expect(prompt).to_have_text(re.compile(_DONE), timeout=timeout_s * 1000)
        except AssertionError:
            self.shot(f"failed-running-cell-{index}")
            raise
        return cell

    def saved_at(self) -> str:
        return self.lab.api(f"contents/{self.name}?content=0")["last_modified"]

    def save(self, timeout_s: float = 20) -> None:
        """Ctrl+S, as a person saves (with widget state, by the user's setting); waits for the file."""
        before = self.saved_at()
        # From the notebook itself: a widget's text box keeps its keys from Lab's shortcuts.
        self.cell(0).locator(".jp-InputPrompt").first.click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        self.wait_for_save(before, timeout_s)

    def wait_for_save(self, before: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.saved_at() == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} was not saved within {timeout_s} s")
            self.keep_this_version()
            time.sleep(0.2)
        self.page.wait_for_timeout(300)  # an overlapping save answers a moment later
        self.keep_this_version()

    def shot(self, name: str, target: Any = None) -> Path:
        """A screenshot into out/browser/ for people to look at: one element, or the window."""
        path = self.shots / f"{name}.png"
        (target or self.page).screenshot(path=str(path))
        return path
