"""The notebooks as people see them: JupyterLab 4 in a real Chromium, typed into and clicked.

The quickstart runs cell by cell against the simulator; then a notebook of forms is filled in by
typing (onboarding, the profiles table's actions, the prompt form). The tests read what the page
shows (footers with their `$` amounts, tables, messages) and, after Ctrl+S and Lab's autosave with
widget state saved, every file under the temp HOME: no canary secret may be there, whether it was
typed and submitted or typed and left in its box. Screenshots of each step go to out/browser/.

Needs Debian's `chromium` (`.ci/run` installs it): skipped without it, except in CI.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import string
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

import dev
from tests.browser.lab import AUTOSAVE_INTERVAL_S, JupyterLab, NotebookPage, browser, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # one file: one worker (dev.py: --dist loadfile)

SHOTS = dev.ROOT / "out" / "browser"
#: A system prompt long enough to be cached (set from code: typing 5,000 characters proves nothing).
SYSTEM = "You answer questions about prompt caching, briefly and precisely. " * 80


def _canary(prefix: str) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "CANARY" + "".join(secrets.choice(alphabet) for _ in range(89))


CANARIES = {
    "submitted key": _canary("sk-ant-api03-"),
    "submitted token": _canary("sk-ant-oat01-"),
    "abandoned key": _canary("sk-ant-api03-"),
    "abandoned token": _canary("sk-ant-oat01-"),
}
#: Typed into a plain ipywidgets Password and left there: it must show up in the saved file, which
#: proves that widget state really is saved (so the canaries' absence means something).
CONTROL = "CONTROL-typed-into-ipywidgets-Password-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    if chromium_path() is None:
        message = "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink(missing_ok=True)
    root = tmp_path_factory.mktemp("lab")
    extra = {
        "BROWSER_CANARY_KEY": CANARIES["submitted key"],
        "BROWSER_CANARY_TOKEN": CANARIES["submitted token"],
    }
    server = JupyterLab.start(root, extra_env=extra)
    try:  # from here on the server is stopped whatever happens
        shutil.copy(dev.ROOT / "notebooks" / "quickstart.ipynb", server.root / "quickstart.ipynb")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def context(lab: JupyterLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # The browser's own profile is outside HOME: it is Chromium's, not the notebook's.
    with browser(tmp_path_factory.mktemp("chromium-profile")) as opened:
        opened.set_default_timeout(30_000)
        yield opened


def no_math(output: Any) -> None:
    """Nothing in an output was typeset as LaTeX (`$…$` read as a formula)."""
    assert output.locator("mjx-container, .MathJax").count() == 0


# -- the quickstart, step by step ------------------------------------------------------------------


def test_the_quickstart_in_lab(lab: JupyterLab, context: Any) -> None:
    from playwright.sync_api import expect

    nb = NotebookPage(context.new_page(), lab, "quickstart.ipynb", SHOTS)
    source = nbformat.read(lab.root / "quickstart.ipynb", as_version=4)
    ids = [c.get("id") for c in source.cells]
    index = {cell_id: i for i, cell_id in enumerate(ids)}
    nb.shot("01-quickstart-opened")

    def run_until(cell_id: str) -> Any:
        while run_until.next <= index[cell_id]:
            nb.run(run_until.next, code=source.cells[run_until.next].cell_type == "code", timeout_s=90)
            run_until.next += 1
        return nb.cell(index[cell_id])

    run_until.next = 0  # type: ignore[attr-defined]

    started = run_until("sim-start")
    expect(started.locator(".jp-Cell-outputArea")).to_contain_text("Simulator running at http://127.0.0.1:")
    nb.shot("02-simulator-started", started)

    profiles = run_until("profiles")
    table = profiles.locator(".jp-Cell-outputArea table")
    expect(table).to_contain_text("anthropic:default")
    row = table.locator("tr", has_text="anthropic:default")
    assert row.locator("td").all_inner_texts()[:4] == [
        "anthropic:default",
        "api_key",
        "sk-ant-api03-…orAA",
        "static",
    ]
    assert "NaT" not in table.inner_text() and "<NA>" not in table.inner_text()
    assert table.bounding_box()["width"] <= 1000
    assert all(len(r.inner_text().splitlines()) <= 1 for r in table.locator("td").all())  # one line each
    nb.shot("03-profiles-table", profiles)
    nb.shot("04-models-status", run_until("status"))

    footers = {}
    for cell_id in ("ask-5m-first", "ask-5m-again", "ask-1h-first", "ask-1h-again"):
        cell = run_until(cell_id)
        output = cell.locator(".jp-Cell-outputArea")
        expect(output.locator(".clawdbot-footer")).to_contain_text("cost $0.")
        no_math(output)
        footers[cell_id] = output.locator(".clawdbot-footer").inner_text()
        assert "$-" not in footers[cell_id] and "-0.0000" not in footers[cell_id]
        nb.shot(f"05-{cell_id}", cell)
    assert re.match(
        r"write · .* write 5m [\d,]+ / 1h 0 · hit 0% · cost \$0\.\d{4} · extra \$0\.\d{4}",
        footers["ask-5m-first"],
    )
    assert re.match(r"hit · .* hit (9\d|100)% · cost \$0\.\d{4} · saved \$0\.\d{4}", footers["ask-5m-again"])
    assert re.match(r"write · .* write 5m 0 / 1h [\d,]+ · .* extra \$0\.\d{4}", footers["ask-1h-first"])
    assert footers["ask-1h-again"].startswith("hit · ")

    usage = run_until("usage")
    output = usage.locator(".jp-Cell-outputArea")
    expect(output.locator("img")).to_be_visible()
    assert output.locator("img").bounding_box()["width"] > 400
    calls = output.locator("table")
    headings = calls.locator("th").all_inner_texts()
    rows = [r.locator("td").all_inner_texts() for r in calls.locator("tbody tr").all()]
    assert [r[headings.index("TTL")] for r in rows] == ["5m", "5m", "1h", "1h"]
    assert rows[1][headings.index("hit")] == "100%" and rows[0][headings.index("saved")].startswith(
        "extra $0."
    )
    assert calls.bounding_box()["width"] <= 1000
    expect(output).to_contain_text(
        re.compile(r"4 calls · 2 hits · hit ratio \d+% · cost \$0\.\d{4} · saved \$0\.\d{4}")
    )
    no_math(output)
    nb.shot("06-usage-plot-and-table", usage)

    summary = run_until("summary")
    expect(summary.locator(".jp-Cell-outputArea table")).to_contain_text("1h")
    nb.shot("07-usage-summary", summary)
    stopped = run_until("sim-stop")
    expect(stopped.locator(".jp-Cell-outputArea")).to_contain_text("Simulator stopped")

    nb.save()
    saved = lab.api("contents/quickstart.ipynb")["content"]  # as saved, read through the server
    assert sum(1 for c in saved["cells"] if c.get("outputs")) >= 10
    nb.shot("08-quickstart-saved")
    nb.page.close()


# -- the forms, typed into --------------------------------------------------------------------------

FORM_CELLS = [
    "%load_ext clawdbot_nb",
    # The canaries come from the kernel's environment, so no cell holds a secret; the simulator
    # accepts the submitted key.
    "%clawdbot sim start\n"
    "import os\nfrom clawdbot_nb.notebook.extension import magics_of\n"
    "_simulator = magics_of(get_ipython()).simulator_session.simulator\n"
    "_simulator.add_api_key(os.environ['BROWSER_CANARY_KEY']);",
    "onboarding = %clawdbot onboard\nonboarding",
    "profiles = %clawdbot profiles --manage\nprofiles",
    "from clawdbot_nb.api.workspace import Workspace\nfrom clawdbot_nb.notebook.widgets import PromptForm\n\n"
    f"prompt = PromptForm(Workspace())\nprompt.system.value = {SYSTEM!r}\nprompt",
    "import ipywidgets\nipywidgets.Password(description='control')",
]


def _type(page: Any, target: Any, text: str) -> None:
    target.click()
    page.keyboard.type(text)


def test_the_forms_typed_into_keep_every_secret_out_of_saved_files(lab: JupyterLab, context: Any) -> None:
    from playwright.sync_api import expect

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in FORM_CELLS])
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(notebook, lab.root / "forms.ipynb")
    nb = NotebookPage(context.new_page(), lab, "forms.ipynb", SHOTS)
    page = nb.page
    for i in range(3):
        nb.run(i)
    form = nb.output(2)
    secret_box = form.locator(".clawdbot-secret").first
    expect(secret_box.locator("input[type=password]")).to_be_visible()

    # A setup-token typed where the API key goes: refused, the box emptied by the page.
    _type(page, secret_box.locator("input"), CANARIES["submitted token"])
    secret_box.locator("button", has_text="Save").click()
    expect(form).to_contain_text("This is a Claude setup-token or OAuth token (sk-ant-oat…), not an API key.")
    expect(form).to_contain_text("→ ")
    assert secret_box.locator("input").input_value() == ""
    nb.shot("10-onboarding-wrong-key", form)
    # Typing again clears the old message; Enter submits.
    _type(page, secret_box.locator("input"), CANARIES["submitted key"])
    expect(form).not_to_contain_text("not an API key")
    page.keyboard.press("Enter")
    expect(form).to_contain_text(
        f"Saved anthropic:default (api_key sk-ant-api03-…{CANARIES['submitted key'][-4:]})"
    )
    assert secret_box.locator("input").input_value() == ""
    nb.shot("11-onboarding-key-saved", form)

    # The setup-token panel: a bad expiry is flagged as typed, then corrected.
    form.get_by_text("Anthropic token (paste setup-token)").click()
    token_box = form.locator(".clawdbot-secret", has_text="Setup-token")
    name, expiry = form.locator("input[type=text]").nth(0), form.locator("input[type=text]").nth(1)
    _type(page, name, "browser")
    _type(page, expiry, "soon")
    expect(form).to_contain_text("Invalid expiry 'soon'")
    nb.shot("12-onboarding-bad-expiry", form)
    expiry.fill("")
    _type(page, expiry, "365d")
    expect(form).to_contain_text("Saves as anthropic:browser, expiring in 365d.")
    _type(page, token_box.locator("input"), CANARIES["submitted token"])
    token_box.locator("button", has_text="Save").click()
    expect(form).to_contain_text("Saved anthropic:browser (token sk-ant-oat01-…")
    nb.shot("13-onboarding-token-saved", form)
    # Typed and left in the boxes: never submitted.
    _type(page, token_box.locator("input"), CANARIES["abandoned token"])
    form.get_by_text("Anthropic API key").first.click()
    _type(page, secret_box.locator("input"), CANARIES["abandoned key"])
    nb.shot("14-onboarding-key-typed-not-saved", form)

    # The profiles table and its actions.
    nb.run(3)
    manage = nb.output(3)
    expect(manage.locator("table")).to_contain_text("anthropic:browser")
    say = manage.locator(".widget-html").last
    manage.locator("select").select_option("anthropic:browser")
    manage.get_by_role("button", name="Clear cooldown").click()
    expect(say).to_contain_text("anthropic:browser had no cooldown; nothing changed.")
    manage.get_by_role("button", name="↑ Up").click()
    expect(say).to_contain_text("Press Set order to save this order.")
    manage.get_by_role("button", name="Set order").click()
    expect(say).to_contain_text("Order for anthropic set: anthropic:browser, anthropic:default.")
    expect(manage).to_contain_text(
        "anthropic: explicit order; tried now as anthropic:browser, anthropic:default."
    )
    nb.shot("20-profiles-order-set", manage)
    manage.get_by_role("button", name="Clear order").click()
    expect(say).to_contain_text("Order for anthropic cleared: round robin again.")
    manage.get_by_role("button", name="Refresh").click()
    expect(say).to_contain_text("Refreshed.")
    manage.get_by_role("button", name="Remove…").click()
    expect(manage).to_contain_text("Remove anthropic:browser and its credential from agent main?")
    manage.get_by_role("button", name="Cancel").click()
    expect(manage).not_to_contain_text("Remove anthropic:browser and its credential")
    manage.get_by_role("button", name="Remove…").click()
    manage.get_by_role("button", name="Yes, remove").click()
    expect(say).to_contain_text("Removed anthropic:browser.")
    # The table scrolls in its own box: the buttons stay inside the notebook's width.
    panel = nb.cell(3).bounding_box()
    for button in manage.locator("button").all():
        box = button.bounding_box()
        assert box is None or box["x"] + box["width"] <= panel["x"] + panel["width"] + 1
    assert manage.locator("table").bounding_box()["width"] <= 1000
    nb.shot("21-profiles-after-removal", manage)

    # The prompt form: typed prompt with dollars and a tag, TTL 1h, Send twice.
    nb.run(4)
    prompt = nb.output(4)
    ask = "Is $5 and $10 <b>bold</b>?"
    _type(page, prompt.locator("textarea").first, ask)
    prompt.get_by_role("button", name="1h").click()
    prompt.get_by_role("button", name="Send").click()
    footer = prompt.locator(".widget-html", has_text="cost $")
    expect(footer).to_contain_text(
        re.compile(r"write · .* write 5m 0 / 1h [\d,]+ .* cost \$0\.\d{4} · extra \$0\.\d{4}")
    )
    expect(prompt).to_contain_text(f'Simulated reply to: "{ask}"')
    assert prompt.locator(".jp-OutputArea-output b").count() == 0  # the tag is text, not bold
    no_math(prompt)
    nb.shot("30-prompt-write", prompt)
    prompt.get_by_role("button", name="Send").click()
    expect(footer).to_contain_text(
        re.compile(r"hit · .* hit (9\d|100)% · cost \$0\.\d{4} · saved \$0\.\d{4}")
    )
    assert "$-" not in footer.inner_text()
    no_math(prompt)
    nb.shot("31-prompt-hit", prompt)
    prompt.locator("textarea").first.fill("")
    prompt.locator("textarea").first.press(" ")
    prompt.get_by_role("button", name="Send").click()
    expect(prompt).to_contain_text("The prompt is empty.")
    nb.shot("32-prompt-empty", prompt)
    _type(page, prompt.locator("textarea").first, "x")
    expect(prompt).not_to_contain_text("The prompt is empty.")

    # The control: a core Password widget, typed into and left.
    nb.run(5)
    _type(page, nb.output(5).locator("input[type=password]"), CONTROL)

    # Saved by Ctrl+S, then by Lab's own autosave with no key pressed.
    nb.save()
    before = nb.saved_at()
    nb.keep_this_version()
    nb.cell(1).locator(".jp-InputArea").click()
    page.keyboard.type("# edited ")  # a change Lab itself saves
    nb.wait_for_save(before, timeout_s=AUTOSAVE_INTERVAL_S * 5)
    nb.shot("40-forms-saved")
    page.close()

    saved = lab.api("contents/forms.ipynb")["content"]
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(m["model_name"] == "AnyModel" for m in state.values())  # the password boxes
    assert CONTROL in json.dumps(state)  # widget state is saved: an ipywidgets Password leaks

    lab.stop()  # kernels shut down: their sandboxes go
    leaks = []
    for path in sorted(p for p in lab.home.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for what, canary in CANARIES.items():
            found = canary.encode() in content or canary[13:].encode() in content
            # A submitted secret belongs in the auth store (a sandbox's, gone with its kernel).
            allowed = what.startswith("submitted") and path.name.startswith("auth-profiles.json")
            if found and not allowed:
                leaks.append(f"{what} in {path.relative_to(lab.home)}")
    assert leaks == []
    assert not list((lab.home / "tmp").glob("clawdbot-nb-sandbox-*")), "a sandbox outlived its kernel"
