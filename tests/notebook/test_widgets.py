"""The ipywidgets forms, driven from Python as a front-end would: values set through `set_state`
(the path a typed value takes over the comm), secrets sent as the password box's custom message
on submit, buttons clicked, and the auth store on disk, the messages and the widget state checked
afterwards. Secrets must never be in a widget."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comm
import ipywidgets
import pytest
from ipywidgets.widgets import widget as widget_module

from clawdbot_nb import catalog, sim
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.notebook.widgets import (
    OPT_IN_NOTE,
    OnboardingForm,
    ProfilesTable,
    PromptForm,
    onboard_without_widgets,
    widgets_available,
)
from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.cooldown import UsageStats
from clawdbot_nb.state.credentials import TokenCredential
from clawdbot_nb.state.onboarding import save_api_key
from clawdbot_nb.state.wizard import WIZARD_CHOICES
from tests.notebook.pages import html_table_rows
from tests.state.fakes import ScriptedPrompter

ROOT = Path(__file__).resolve().parents[2]
DAY_MS = 86_400_000

# Real shapes; every one ends in a distinct 4-character tail so masks can be asserted.
API_KEY = "sk-ant-api03-" + "Qm9vbGVhbkFQSWtleQ" * 5 + "-WXYZ"
SETUP_TOKEN = "sk-ant-oat01-" + "c2V0dXB0b2tlbnNlY3JldA" * 4 + "-ABCD"
CLI_ACCESS = "sk-ant-oat01-" + "YWNjZXNzdG9rZW4xMjM0" * 4 + "-ACC1"
CLI_REFRESH = "sk-ant-ort01-" + "cmVmcmVzaHRva2VuOTg3" * 4 + "-REF1"
#: Above every model's minimum cacheable prompt, so the second identical send is a cache hit.
LONG_SYSTEM = "You are a meticulous research assistant who cites sources and explains caching. " * 60


@pytest.fixture
def agent(state_dir: Path) -> AgentState:
    return AgentState.resolve()


@pytest.fixture(autouse=True)
def _fresh_world() -> Iterator[None]:
    """A fresh Claude CLI read cache, and every widget a test made closed afterwards."""
    claude_cli.clear_read_cache()
    before = set(widget_module._instances)
    yield
    claude_cli.clear_read_cache()
    for model_id in set(widget_module._instances) - before:
        widget = widget_module._instances.get(model_id)
        if widget is not None:
            widget.close()


def type_into(field: ipywidgets.Widget, value: str) -> None:
    """What a front-end does when the user types or pastes: a state update over the comm."""
    field.set_state({"value": value})


def submit(field: ipywidgets.Widget, value: str) -> None:
    """What the page does when the user presses a password box's button (or Enter): the box is
    emptied in the browser and the value arrives once, as a custom comm message."""
    field._handle_msg(
        {
            "content": {"data": {"method": "custom", "content": {"event": "submit", "value": value}}},
            "buffers": [],
        }
    )


def start_typing(field: ipywidgets.Widget) -> None:
    """What the page sends when the user starts typing into a password box: the event, no value."""
    field._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "typing"}}}, "buffers": []}
    )


def holds_no_secret(field: ipywidgets.Widget) -> bool:
    """A password box has no synced value: what is typed never becomes widget state."""
    return "value" not in field.keys and not any("value" in name for name in field.get_state())


def store_json(agent: AgentState) -> dict[str, Any]:
    path = agent.store_file.path
    return json.loads(path.read_text()) if path.exists() else {"profiles": {}}


def config_json(agent: AgentState) -> dict[str, Any]:
    import json5

    return json5.loads(agent.config_path.read_text()) if agent.config_path.exists() else {}


def write_cli_login(expires_ms: int, *, access: str = CLI_ACCESS, refresh: str | None = CLI_REFRESH) -> Path:
    oauth: dict[str, Any] = {"accessToken": access, "expiresAt": expires_ms, "subscriptionType": "max"}
    if refresh:
        oauth["refreshToken"] = refresh
    path = claude_cli.credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"claudeAiOauth": oauth}))
    return path


# -- availability and imports ------------------------------------------------------------------


def test_widgets_are_unavailable_in_plain_python() -> None:
    assert widgets_available() is False


def test_widgets_are_available_only_in_a_kernel_with_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    class KernelShell:
        kernel = object()

    class TerminalShell:
        pass

    monkeypatch.setattr(IPython, "get_ipython", lambda: KernelShell())
    assert widgets_available() is True
    monkeypatch.setattr(IPython, "get_ipython", lambda: TerminalShell())
    assert widgets_available() is False

    def broken() -> None:
        raise RuntimeError("odd shell")

    monkeypatch.setattr(IPython, "get_ipython", broken)
    assert widgets_available() is False
    monkeypatch.setattr(IPython, "get_ipython", lambda: KernelShell())
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # as if it were not installed
    assert widgets_available() is False


def test_neither_the_package_nor_the_extension_imports_the_widgets_module() -> None:
    probe = (
        "import sys, clawdbot_nb, clawdbot_nb.notebook.extension; "
        "print([m for m in ('clawdbot_nb.notebook.widgets', 'ipywidgets') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


# -- onboarding: the choices ---------------------------------------------------------------------


def test_the_form_offers_the_three_choices_of_the_docs_and_shows_the_matching_panel(
    agent: AgentState,
) -> None:
    form = OnboardingForm(agent)
    assert [label for label, _ in form.choice.options] == [
        "Anthropic API key",
        "Anthropic token (paste setup-token)",
        "Claude Code CLI (reuse existing login)",
    ]
    assert form.panel.children == (form.api_key_panel,)
    from clawdbot_nb.notebook.secret_field import SecretInput

    assert isinstance(form.api_key, SecretInput) and isinstance(form.token, SecretInput)
    for choice, _, hint in WIZARD_CHOICES:
        form.choice.value = choice
        assert hint.split("`")[0] in form.hint.value
    form.choice.value = "token"
    assert form.panel.children == (form.token_panel,)
    assert isinstance(form.token_name, ipywidgets.Text) and isinstance(form.token_expiry, ipywidgets.Text)
    form.choice.value = "claude-cli"
    assert form.panel.children == (form.cli_panel,)
    assert form.reuse_cli_button.description == "Reuse it as anthropic:claude-cli"


def test_the_form_displays_as_its_widget_with_a_plain_text_fallback(agent: AgentState) -> None:
    form = OnboardingForm(agent)
    bundle = form._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.widget.model_id
    assert "%clawdbot onboard --no-widget" in bundle["text/plain"]
    assert form.widget in widget_module._instances.values()
    form.close()
    assert form.widget not in widget_module._instances.values()
    assert "%clawdbot onboard --no-widget" in form._repr_mimebundle_()["text/plain"]


# -- onboarding: API key -------------------------------------------------------------------------


def test_an_api_key_is_saved_masked_and_the_field_is_blank_after_the_click(agent: AgentState) -> None:
    saved = []
    form = OnboardingForm(agent, on_saved=saved.append)
    submit(form.api_key, f'export ANTHROPIC_API_KEY="{API_KEY}"')

    assert holds_no_secret(form.api_key)
    assert store_json(agent)["profiles"]["anthropic:default"] == {
        "type": "api_key",
        "provider": "anthropic",
        "key": API_KEY,
    }
    assert config_json(agent)["auth"]["profiles"]["anthropic:default"]["mode"] == "api_key"
    assert "✓ Saved anthropic:default (api_key sk-ant-api03-…WXYZ) for agent main" in form.message.value
    assert API_KEY not in form.message.value
    assert [r.profile_id for r in saved] == ["anthropic:default"] and form.result == saved[0]


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        (SETUP_TOKEN, "This is a Claude setup-token or OAuth token (sk-ant-oat…), not an API key."),
        ("   ", "Required"),
    ],
)
def test_a_wrong_api_key_is_refused_inline_and_still_cleared(
    agent: AgentState, pasted: str, message: str
) -> None:
    form = OnboardingForm(agent)
    submit(form.api_key, pasted)
    assert holds_no_secret(form.api_key)
    assert f"✗ {message}" in form.message.value
    assert "Fix:" not in form.message.value and form.message.value.count("<div") == 2  # the fix: its own line
    assert store_json(agent)["profiles"] == {}
    assert form.result is None


def test_the_environment_key_is_offered_by_its_mask_only(
    agent: AgentState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    form = OnboardingForm(agent)
    assert form.use_env is not None and form.use_env.value is True
    assert form.use_env.description == "Use ANTHROPIC_API_KEY from the environment (sk-ant-api03-…WXYZ)"
    assert form.api_key.input_disabled
    submit(form.api_key, "")
    assert store_json(agent)["profiles"]["anthropic:default"]["key"] == API_KEY
    assert "sk-ant-api03-…WXYZ" in form.message.value

    form.use_env.value = False  # untick: paste another key instead
    assert not form.api_key.input_disabled
    other = API_KEY[:-4] + "OTHR"
    submit(form.api_key, other)
    assert store_json(agent)["profiles"]["anthropic:default"]["key"] == other


def test_without_the_environment_key_there_is_no_such_option(agent: AgentState) -> None:
    form = OnboardingForm(agent)
    assert form.use_env is None
    assert form.api_key_panel.children == (form.api_key,)


# -- onboarding: setup-token ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("sk-ant-xyz01-" + "A" * 80, "Expected token starting with sk-ant-oat01-"),
        ("sk-ant-oat01-tooShort1234", "Token looks too short; paste the full setup-token"),
        (API_KEY, "This is an Anthropic API key (sk-ant-api…), not a setup-token."),
        ("", "Required"),
    ],
)
def test_a_wrong_setup_token_gets_the_validators_message(
    agent: AgentState, pasted: str, message: str
) -> None:
    form = OnboardingForm(agent)
    form.choice.value = "token"
    submit(form.token, pasted)
    assert holds_no_secret(form.token)
    assert f"✗ {message}" in form.message.value
    assert store_json(agent)["profiles"] == {}


def test_a_setup_token_is_saved_under_its_named_profile_with_an_expiry(agent: AgentState) -> None:
    form = OnboardingForm(agent)
    form.choice.value = "token"
    assert "Saves as anthropic:default, no expiry." in form.token_target.value
    type_into(form.token_name, "Work Laptop")
    type_into(form.token_expiry, "365d")
    assert "Saves as anthropic:work-laptop, expiring in 365d." in form.token_target.value
    before = now_ms()
    submit(form.token, SETUP_TOKEN)

    assert holds_no_secret(form.token)
    stored = store_json(agent)["profiles"]["anthropic:work-laptop"]
    assert stored["type"] == "token" and stored["token"] == SETUP_TOKEN
    assert before + 365 * DAY_MS <= stored["expires"] <= now_ms() + 365 * DAY_MS
    assert config_json(agent)["auth"]["profiles"]["anthropic:work-laptop"]["mode"] == "token"
    assert "✓ Saved anthropic:work-laptop (token sk-ant-oat01-…ABCD)" in form.message.value
    assert "expires in 365d" in form.message.value


def test_a_bad_expiry_is_flagged_as_typed_and_refused_on_save(agent: AgentState) -> None:
    form = OnboardingForm(agent)
    form.choice.value = "token"
    type_into(form.token_expiry, "next year")
    assert "✗ Invalid expiry 'next year'" in form.token_target.value
    submit(form.token, SETUP_TOKEN)
    assert holds_no_secret(form.token)
    assert "✗ Invalid expiry 'next year'" in form.message.value
    assert store_json(agent)["profiles"] == {}


# -- onboarding: Claude Code CLI -----------------------------------------------------------------


def test_without_a_claude_login_the_form_says_what_to_do(agent: AgentState) -> None:
    form = OnboardingForm(agent)
    form.choice.value = "claude-cli"
    assert "No Claude Code CLI login found (looked in" in form.cli_status.value
    assert "run `claude` and log in on this machine" in form.cli_status.value
    assert form.reuse_cli_button.disabled


def test_a_claude_login_is_described_masked_and_reused_on_request(agent: AgentState) -> None:
    path = write_cli_login(now_ms() + 5 * 3_600_000)
    form = OnboardingForm(agent)
    assert form.cli_status.value == ""  # nothing is read before the choice is made
    form.choice.value = "claude-cli"
    status = form.cli_status.value
    assert f"Found a Claude Code login in {path}: sk-ant-oat01-…ACC1, expires in 5h, refreshable." in status
    assert OPT_IN_NOTE in status
    assert CLI_ACCESS not in status and CLI_REFRESH not in status
    assert not form.reuse_cli_button.disabled
    assert store_json(agent)["profiles"] == {}  # opt-in: nothing saved until the click

    form.reuse_cli_button.click()
    stored = store_json(agent)["profiles"]["anthropic:claude-cli"]
    assert stored["type"] == "oauth" and stored["access"] == CLI_ACCESS and stored["refresh"] == CLI_REFRESH
    assert config_json(agent)["auth"]["profiles"]["anthropic:claude-cli"]["mode"] == "oauth"
    assert "✓ Saved anthropic:claude-cli (oauth sk-ant-oat01-…ACC1)" in form.message.value


def test_an_expired_login_without_refresh_cannot_be_reused_and_look_again_sees_a_new_one(
    agent: AgentState,
) -> None:
    write_cli_login(now_ms() - 60_000, refresh=None)
    form = OnboardingForm(agent)
    form.choice.value = "claude-cli"
    assert "expired, no refresh token." in form.cli_status.value
    assert "run `claude` to log in again" in form.cli_status.value
    assert form.reuse_cli_button.disabled

    write_cli_login(now_ms() + 3 * DAY_MS)  # the user logged in again meanwhile
    form.look_again_button.click()
    assert "expires in 3d, refreshable." in form.cli_status.value
    assert not form.reuse_cli_button.disabled


def test_an_unreadable_claude_credentials_file_is_named(agent: AgentState) -> None:
    path = claude_cli.credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ not json")
    form = OnboardingForm(agent)
    form.choice.value = "claude-cli"
    assert "✗" in form.cli_status.value and str(path) in form.cli_status.value
    assert form.reuse_cli_button.disabled


def test_a_failing_on_saved_callback_is_reported_after_the_save(agent: AgentState) -> None:
    def explode(result: Any) -> None:
        raise RuntimeError("listener broke")

    form = OnboardingForm(agent, on_saved=explode)
    submit(form.api_key, API_KEY)
    assert "✓ Saved anthropic:default" in form.message.value
    assert "saved, but on_saved failed: unexpected RuntimeError: listener broke" in form.message.value


# -- profiles table ------------------------------------------------------------------------------


def _store_profiles(agent: AgentState) -> None:
    save_api_key(agent, API_KEY)
    save_api_key(agent, API_KEY[:-4] + "SPAR", profile_id="anthropic:spare")
    credential = TokenCredential(provider="anthropic", token=SETUP_TOKEN)
    agent.store_file.update(lambda s: s.set_credential("anthropic:manual", credential))


def test_the_table_shows_every_profile_masked(agent: AgentState) -> None:
    _store_profiles(agent)
    table = ProfilesTable(agent)
    for pid, mask in [
        ("anthropic:default", "sk-ant-api03-…WXYZ"),
        ("anthropic:spare", "sk-ant-api03-…SPAR"),
        ("anthropic:manual", "sk-ant-oat01-…ABCD"),
    ]:
        assert [pid, "api_key" if "api03" in mask else "token", mask] == html_table_rows(table.table.value)[
            pid
        ][:3]
    assert API_KEY not in table.table.value and SETUP_TOKEN not in table.table.value
    assert set(table.selector.options) == {"anthropic:default", "anthropic:spare", "anthropic:manual"}
    assert "round robin" in table.order_info.value
    assert table.message.value == ""


def test_an_empty_agent_gets_a_pointer_to_onboarding(agent: AgentState) -> None:
    table = ProfilesTable(agent)
    assert "No auth profiles for agent main yet" in table.table.value
    table.clear_cooldown_button.click()
    assert "✗ Agent main has no profile to act on." in table.message.value


def test_clear_cooldown_resets_the_profile(agent: AgentState) -> None:
    _store_profiles(agent)
    until = now_ms() + 3_600_000
    agent.store_file.update(
        lambda s: s.set_stats("anthropic:spare", UsageStats(cooldown_until=until, error_count=3))
    )
    table = ProfilesTable(agent)
    assert "cooldown" in table.table.value
    table.selector.value = "anthropic:spare"
    table.clear_cooldown_button.click()
    stats = store_json(agent)["usageStats"]["anthropic:spare"]
    assert stats.get("cooldownUntil") is None and stats["errorCount"] == 0
    assert "✓ Cleared the cooldown of anthropic:spare." in table.message.value


def test_remove_asks_first_and_only_the_confirmation_removes(agent: AgentState) -> None:
    _store_profiles(agent)
    table = ProfilesTable(agent)
    table.selector.value = "anthropic:spare"
    table.remove_button.click()
    assert table.confirm_box.layout.display != "none"
    assert "Remove anthropic:spare and its credential from agent main?" in table.confirm_text.value
    assert "anthropic:spare" in store_json(agent)["profiles"]

    table.cancel_remove_button.click()
    assert table.confirm_box.layout.display == "none"
    assert "anthropic:spare" in store_json(agent)["profiles"]

    table.remove_button.click()
    table.confirm_remove_button.click()
    assert "anthropic:spare" not in store_json(agent)["profiles"]
    assert "anthropic:spare" not in config_json(agent)["auth"]["profiles"]
    assert "anthropic:spare" not in table.selector.options
    assert "✓ Removed anthropic:spare." in table.message.value
    assert table.confirm_box.layout.display == "none"


def test_picking_another_profile_cancels_a_pending_removal(agent: AgentState) -> None:
    _store_profiles(agent)
    table = ProfilesTable(agent)
    table.selector.value = "anthropic:spare"
    table.remove_button.click()
    table.selector.value = "anthropic:default"
    assert table.pending_removal is None and table.confirm_box.layout.display == "none"
    table.confirm_remove_button.click()
    assert set(store_json(agent)["profiles"]) == {"anthropic:default", "anthropic:spare", "anthropic:manual"}


def test_the_order_is_edited_with_up_and_down_then_set_and_cleared(agent: AgentState) -> None:
    _store_profiles(agent)
    table = ProfilesTable(agent)
    type_into(table.order, "anthropic:default, anthropic:spare, anthropic:manual")
    table.selector.value = "anthropic:manual"
    table.up_button.click()
    table.up_button.click()
    table.up_button.click()  # already first: stays there
    assert table.order.value == "anthropic:manual, anthropic:default, anthropic:spare"
    table.selector.value = "anthropic:default"
    table.down_button.click()
    assert table.order.value == "anthropic:manual, anthropic:spare, anthropic:default"
    assert "Press Set order" in table.message.value
    assert "order" not in store_json(agent) or not store_json(agent)["order"]  # nothing saved yet

    table.set_order_button.click()
    assert store_json(agent)["order"]["anthropic"] == [
        "anthropic:manual",
        "anthropic:spare",
        "anthropic:default",
    ]
    assert (
        "✓ Order for anthropic set: anthropic:manual, anthropic:spare, anthropic:default."
        in table.message.value
    )
    assert "explicit order" in table.order_info.value

    table.clear_order_button.click()
    assert not store_json(agent).get("order", {}).get("anthropic")
    assert "✓ Order for anthropic cleared: round robin again." in table.message.value
    assert "round robin" in table.order_info.value


def test_an_unknown_id_in_the_order_is_one_error_line(agent: AgentState) -> None:
    _store_profiles(agent)
    table = ProfilesTable(agent)
    type_into(table.order, "anthropic:default, anthropic:nope")
    table.set_order_button.click()
    assert "✗ Not a stored anthropic profile: anthropic:nope" in table.message.value
    assert "Fix:" not in table.message.value and table.message.value.count("<div") == 2
    assert not store_json(agent).get("order")


def test_a_key_pasted_into_the_order_field_shows_only_its_mask_in_the_error(agent: AgentState) -> None:
    _store_profiles(agent)
    table = ProfilesTable(agent)
    stray = "sk-ant-api03-" + "StrayPasteMIDDLE" * 5 + "-STRY"
    type_into(table.order, stray)
    table.set_order_button.click()
    assert "✗ order set looks like a secret (sk-ant-api03-…STRY), not a profile id" in table.message.value
    assert "StrayPasteMIDDLE" not in table.message.value


def test_refresh_picks_up_changes_made_elsewhere(agent: AgentState) -> None:
    table = ProfilesTable(agent)
    assert table.selector.options == ()
    save_api_key(agent, API_KEY)  # e.g. from another cell or the gateway
    table.refresh_button.click()
    assert table.selector.options == ("anthropic:default",)
    assert "sk-ant-api03-…WXYZ" in table.table.value
    assert "Refreshed." in table.message.value


# -- prompt form ---------------------------------------------------------------------------------


@pytest.fixture
def workspace(agent: AgentState) -> Iterator[Workspace]:
    save_api_key(agent, sim.DEMO_API_KEY)
    workspace = Workspace.simulated(sim.Simulator(), agent=agent)
    yield workspace
    workspace.close()


def output_text(form: PromptForm) -> str:
    return "".join(out["data"]["text/plain"] for out in form.output.outputs)


def test_the_prompt_form_offers_the_suggested_models_and_both_ttls(workspace: Workspace) -> None:
    form = PromptForm(workspace)
    assert form.model.value == catalog.DEFAULT_MODEL
    assert list(form.model.options) == list(catalog.SUGGESTED_MODELS)
    assert list(form.ttl.options) == ["5m", "1h"] and form.ttl.value == "5m"
    assert isinstance(form.prompt, ipywidgets.Textarea) and isinstance(form.system, ipywidgets.Textarea)
    assert isinstance(form.output, ipywidgets.Output)


def test_the_workspace_model_and_ttl_then_the_configured_model_are_the_defaults(agent: AgentState) -> None:
    workspace = Workspace.simulated(sim.Simulator(), agent=agent, model="claude-sonnet-4-5", ttl="1h")
    try:
        form = PromptForm(workspace)
        assert form.model.value == "claude-sonnet-4-5" and form.model.options[0] == "claude-sonnet-4-5"
        assert form.ttl.value == "1h"
    finally:
        workspace.close()
    agent.config_path.parent.mkdir(parents=True, exist_ok=True)
    agent.config_path.write_text('{agents: {defaults: {model: {primary: "anthropic/claude-opus-4-5"}}}}')
    workspace = Workspace.simulated(sim.Simulator(), agent=agent)
    try:
        assert PromptForm(workspace).model.value == "claude-opus-4-5"
    finally:
        workspace.close()


def test_a_send_shows_the_reply_and_its_footer_and_a_second_one_hits_the_cache(workspace: Workspace) -> None:
    form = PromptForm(workspace)
    form.prompt.value = "What does prompt caching save?"
    form.system.value = LONG_SYSTEM
    form.send_button.click()

    reply = form.last_reply
    assert reply is not None and reply.verdict == "write"
    assert output_text(form) == reply.text and "prompt caching save" in reply.text
    assert form.output.outputs[0]["data"]["text/markdown"]
    assert form.footer.value.count("·") >= 8
    assert ">write · in " in form.footer.value and "TTL 5m" in form.footer.value
    assert "anthropic:default · claude-sonnet-5-5" in form.footer.value
    assert form.message.value == "" and not form.send_button.disabled

    form.send_button.click()
    assert form.last_reply is not reply and form.last_reply.verdict == "hit"
    # The system prompt is read; the one-shot question is sent uncached (planner.py).
    assert ">hit · in " in form.footer.value and f"hit {form.last_reply.hit_ratio:.0%}" in form.footer.value
    assert form.last_reply.hit_ratio > 0.95


def test_the_chosen_ttl_and_model_are_used(workspace: Workspace) -> None:
    form = PromptForm(workspace)
    form.prompt.value = "Cache this for an hour"
    form.system.value = LONG_SYSTEM
    form.ttl.value = "1h"
    form.model.value = "claude-haiku-5-5"
    form.send_button.click()
    assert form.last_reply is not None
    assert form.last_reply.model == "claude-haiku-5-5" and form.last_reply.usage.cache_write_1h_tokens > 0
    assert "TTL 1h" in form.footer.value and "claude-haiku-5-5" in form.footer.value


def test_a_below_minimum_prompt_shows_its_note(workspace: Workspace) -> None:
    form = PromptForm(workspace)
    form.prompt.value = "Short"
    form.system.value = "Be brief."  # marked, and far under the minimum
    form.send_button.click()
    assert form.last_reply is not None and form.last_reply.notes()
    assert "⚠" in form.footer.value


def test_the_reply_streams_into_the_output(workspace: Workspace) -> None:
    form = PromptForm(workspace)
    form.update_interval_s = 0.0  # every chunk redraws
    shown: list[str] = []
    form.output.observe(lambda change: shown.append(output_text(form)), names="outputs")
    form.prompt.value = "Tell me a long story about caches"
    form.send_button.click()
    partial = [text for text in shown if text and text != form.last_reply.text]
    assert partial, "the reply should appear piece by piece"
    assert all(form.last_reply.text.startswith(text) for text in partial)


def test_errors_are_one_line_in_the_form(workspace: Workspace) -> None:
    form = PromptForm(workspace)
    form.prompt.value = "   "
    form.send_button.click()
    assert form.message.value.count("✗") == 1
    assert "✗ The prompt is empty." in form.message.value and "Fix:" not in form.message.value
    assert form.last_reply is None and not form.send_button.disabled

    form.prompt.value = "Hello"
    form.model.options = [*form.model.options, "claude-opus-4-1"]
    form.model.value = "claude-opus-4-1"
    form.send_button.click()
    assert form.message.value.count("✗") == 1
    assert "✗ claude-opus-4-1 was retired from the Anthropic API" in form.message.value
    assert form.output.outputs == () and form.footer.value == ""


def test_a_profile_without_credentials_for_the_simulator_is_reported(agent: AgentState) -> None:
    workspace = Workspace.simulated(sim.Simulator(), agent=agent)
    try:
        form = PromptForm(workspace)
        form.prompt.value = "Hello"
        form.send_button.click()
        assert 'No API key found for provider "anthropic"' in form.message.value
    finally:
        workspace.close()


# -- without widgets -----------------------------------------------------------------------------


def test_the_getpass_fallback_offers_the_same_three_choices(agent: AgentState) -> None:
    prompter = ScriptedPrompter("2", SETUP_TOKEN, "laptop", "30d")
    result = onboard_without_widgets(agent, prompter)
    assert result is not None and result.profile_id == "anthropic:laptop"
    assert store_json(agent)["profiles"]["anthropic:laptop"]["token"] == SETUP_TOKEN
    shown = "\n".join(prompter.shown)
    for _, label, _ in WIZARD_CHOICES:
        assert label in shown
    assert prompter.secret_prompts == ["Paste Anthropic setup-token (hidden): "]
    assert SETUP_TOKEN not in shown


def test_the_getpass_fallback_re_asks_after_a_wrong_key(agent: AgentState) -> None:
    prompter = ScriptedPrompter("1", SETUP_TOKEN, API_KEY)
    result = onboard_without_widgets(agent, prompter)
    assert result is not None and result.masked_secret == "sk-ant-api03-…WXYZ"
    assert any("not an API key" in line for line in prompter.shown)
    assert len(prompter.secret_prompts) == 2


def test_the_getpass_fallback_uses_a_hidden_prompt_by_default(
    agent: AgentState, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins
    import getpass

    answers = iter(["1"])
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(answers))
    hidden: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": hidden.append(prompt) or API_KEY)
    result = onboard_without_widgets(agent)
    assert result is not None and result.profile_id == "anthropic:default"
    assert hidden == ["Paste Anthropic API key (hidden): "]
    assert API_KEY not in capsys.readouterr().out


# -- the canary: no secret anywhere but the store ---------------------------------------------------


CANARY_KEY = "sk-ant-api03-" + "CANARYkeyMIDDLEpart" * 4 + "-KEY1"
CANARY_ENV_KEY = "sk-ant-api03-" + "CANARYenvMIDDLEpart" * 4 + "-ENV1"
CANARY_TOKEN = "sk-ant-oat01-" + "CANARYtokMIDDLEpart" * 4 + "-TOK1"
CANARY_CLI_ACCESS = "sk-ant-oat01-" + "CANARYcliMIDDLEpart" * 4 + "-CLI1"
CANARY_CLI_REFRESH = "sk-ant-ort01-" + "CANARYrefMIDDLEpart" * 4 + "-REF1"
CANARIES = (CANARY_KEY, CANARY_ENV_KEY, CANARY_TOKEN, CANARY_CLI_ACCESS, CANARY_CLI_REFRESH)
#: What no mask reveals: if any of these shows up, some part of a secret leaked.
NEEDLES = ("CANARY", "MIDDLEpart", *(c[13:-5] for c in CANARIES))


@pytest.fixture
def comm_log(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Everything the kernel sends to the front-end (comm opens with the full state, updates,
    echoes): what a front-end could show or save into the notebook."""
    sent: list[Any] = []

    class RecordingComm(comm.DummyComm):
        def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, **keys: Any) -> None:
            sent.append({"type": msg_type, "comm_id": self.comm_id, "data": data, "metadata": metadata})

    monkeypatch.setattr(comm, "create_comm", lambda *args, **kwargs: RecordingComm(*args, **kwargs))
    return sent


def _strings_held_by(obj: Any, seen: set[int] | None = None, depth: int = 0) -> Iterator[str]:
    """Every string reachable from a form's attributes and from the closures of its callbacks."""
    seen = set() if seen is None else seen
    # The agent and the workspace hold the store and its clients: that is where secrets belong.
    if id(obj) in seen or depth > 6 or isinstance(obj, (AgentState, Workspace)):
        return
    seen.add(id(obj))
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _strings_held_by(key, seen, depth + 1)
            yield from _strings_held_by(value, seen, depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            yield from _strings_held_by(item, seen, depth + 1)
    elif isinstance(obj, ipywidgets.Widget):
        yield json.dumps(obj.get_state(), default=str)
        yield repr(obj)
        for name in ("_click_handlers", "_submission_callbacks"):
            dispatcher = getattr(obj, name, None)
            for callback in getattr(dispatcher, "callbacks", []):
                yield from _strings_held_by(callback, seen, depth + 1)
        for by_type in obj._trait_notifiers.values():
            for handlers in by_type.values():
                yield from _strings_held_by(handlers, seen, depth + 1)
    elif callable(obj):
        for cell in getattr(obj, "__closure__", None) or ():
            yield from _strings_held_by(cell.cell_contents, seen, depth + 1)
        bound_to = getattr(obj, "__self__", None)
        if bound_to is not None:
            yield from _strings_held_by(bound_to, seen, depth + 1)
        yield from _strings_held_by(getattr(obj, "__defaults__", None) or (), seen, depth + 1)
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("clawdbot_nb"):
        yield repr(obj)
        yield from _strings_held_by(vars(obj), seen, depth + 1)


def test_canary_secrets_never_reach_widget_state_messages_or_files_other_than_the_store(
    agent: AgentState,
    comm_log: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    for canary in CANARIES:
        assert len(canary) >= 80
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY_ENV_KEY)
    cli_file = write_cli_login(now_ms() + 3_600_000, access=CANARY_CLI_ACCESS, refresh=CANARY_CLI_REFRESH)
    texts: list[str] = []  # every message and output as it was shown, click by click
    boxes_empty: list[bool] = []

    form = OnboardingForm(agent)

    def seen() -> None:
        boxes_empty.extend([holds_no_secret(form.api_key), holds_no_secret(form.token)])
        texts.extend(w.value for w in (form.message, form.token_target, form.cli_status, form.hint))

    def click(button: ipywidgets.Button) -> None:
        button.click()
        seen()

    def send(field: ipywidgets.Widget, value: str) -> None:
        start_typing(field)
        submit(field, value)
        seen()

    # API key: the environment's, then a token pasted as a key, an empty one, a pasted `export`.
    send(form.api_key, "")
    form.use_env.value = False
    for pasted in (CANARY_TOKEN, "", f"export ANTHROPIC_API_KEY='{CANARY_KEY}';"):
        send(form.api_key, pasted)
    # setup-token: a key pasted as a token, a short one, a wrong prefix, a bad expiry, then good.
    form.choice.value = "token"
    for pasted, expiry in [
        (CANARY_KEY, ""),
        (CANARY_TOKEN[:40], ""),
        ("sk-ant-xyz01-" + CANARY_TOKEN[13:], ""),
        (CANARY_TOKEN, "someday"),
        (CANARY_TOKEN + "\n", "30d"),
    ]:
        type_into(form.token_name, "work")
        type_into(form.token_expiry, expiry)
        send(form.token, pasted)
    # Claude Code CLI: described, then reused.
    form.choice.value = "claude-cli"
    click(form.look_again_button)
    click(form.reuse_cli_button)
    assert set(store_json(agent)["profiles"]) == {
        "anthropic:default",
        "anthropic:work",
        "anthropic:claude-cli",
    }

    table = ProfilesTable(agent)
    table.selector.value = "anthropic:claude-cli"
    table.clear_cooldown_button.click()
    table.up_button.click()
    table.set_order_button.click()
    table.remove_button.click()
    texts.extend([table.table.value, table.order_info.value, table.message.value, table.confirm_text.value])
    table.confirm_remove_button.click()
    texts.extend([table.table.value, table.message.value])

    # A prompt sent with a canary key the simulator does not know: its 401 must come back masked.
    workspace = Workspace.simulated(sim.Simulator(), agent=agent)
    try:
        prompt_form = PromptForm(workspace)
        prompt_form.prompt.value = "Hello"
        prompt_form.send_button.click()
    finally:
        workspace.close()
    assert "✗" in prompt_form.message.value
    texts.extend(
        [prompt_form.message.value, prompt_form.footer.value, json.dumps(prompt_form.output.outputs)]
    )

    # The flows did what they should, with masks in the messages.
    assert boxes_empty and all(boxes_empty)
    texts.append(form.use_env.description)
    joined = "\n".join(texts)
    for expected in (
        "Use ANTHROPIC_API_KEY from the environment (sk-ant-api03-…ENV1)",
        "api_key sk-ant-api03-…ENV1",
        "not an API key",
        "Required",
        "api_key sk-ant-api03-…KEY1",
        "not a setup-token",
        "Token looks too short; paste the full setup-token",
        "Expected token starting with sk-ant-oat01-",
        "Invalid expiry 'someday'",
        "token sk-ant-oat01-…TOK1",
        "sk-ant-oat01-…CLI1",
        "oauth sk-ant-oat01-…CLI1",
    ):
        assert expected in joined, expected

    # Now look everywhere a secret could have gone.
    places = {
        "messages and outputs": joined,
        "manager state": json.dumps(ipywidgets.Widget.get_manager_state(), default=str),
        "sent to the front-end": json.dumps(comm_log, default=str),
        "form objects and callbacks": "\n".join(
            s for obj in (form, table, prompt_form) for s in _strings_held_by(obj)
        ),
        "stdout/stderr": "".join(capsys.readouterr()),
        "logs": caplog.text,
    }
    store_path = agent.store_file.path
    for path in sorted(agent.state_dir.rglob("*")):
        if path.is_file() and path != store_path:
            places[f"file {path.name}"] = path.read_bytes().decode("utf-8", "replace")
    assert comm_log and "comm_open" in {m["type"] for m in comm_log}
    assert any(m["type"] == "comm_msg" for m in comm_log)
    for where, text in places.items():
        for needle in NEEDLES:
            assert needle not in text, f"{needle!r} leaked into {where}"
    # The store is where the secrets belong, and the Claude CLI file was left as it was.
    profiles = store_json(agent)["profiles"]
    assert profiles["anthropic:default"]["key"] == CANARY_KEY
    assert profiles["anthropic:work"]["token"] == CANARY_TOKEN
    assert "anthropic:claude-cli" not in profiles
    assert CANARY_CLI_ACCESS in cli_file.read_text()


def test_a_typed_secret_never_enters_widget_state_or_comes_back_to_the_front_end(
    agent: AgentState, comm_log: list[Any]
) -> None:
    def sent_to(widget: ipywidgets.Widget) -> str:
        return json.dumps([m for m in comm_log if m["comm_id"] == widget.model_id])

    plain = ipywidgets.Password()
    type_into(plain, CANARY_KEY)
    assert CANARY_KEY in json.dumps(plain.get_state())  # ipywidgets keeps what is typed in its model
    plain.close()

    form = OnboardingForm(agent)
    start_typing(form.api_key)
    submit(form.api_key, CANARY_KEY)
    assert store_json(agent)["profiles"]["anthropic:default"]["key"] == CANARY_KEY
    assert holds_no_secret(form.api_key)
    assert CANARY_KEY not in sent_to(form.api_key) and CANARY_KEY not in json.dumps(form.api_key.get_state())
    # A state update from a front-end cannot smuggle one in either: there is no trait to hold it.
    form.api_key.set_state({"value": CANARY_KEY})
    assert CANARY_KEY not in json.dumps(ipywidgets.Widget.get_manager_state())


def test_typing_a_new_value_replaces_the_last_message(agent: AgentState) -> None:
    form = OnboardingForm(agent)
    submit(form.api_key, SETUP_TOKEN)
    assert "✗" in form.message.value
    start_typing(form.api_key)
    assert form.message.value == ""
    form.choice.value = "token"
    type_into(form.token_expiry, "soon")
    submit(form.token, SETUP_TOKEN)
    assert "✗ Invalid expiry 'soon'" in form.message.value
    type_into(form.token_expiry, "30d")
    assert form.message.value == ""


def test_the_forms_use_core_widgets_and_the_password_box_only(
    agent: AgentState, workspace: Workspace
) -> None:
    from clawdbot_nb.notebook.secret_field import SecretInput

    core = {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}
    for form in (OnboardingForm(agent), ProfilesTable(agent), PromptForm(workspace)):
        made = [w for w in form._created if not isinstance(w, SecretInput)]
        assert len(made) > 5
        assert {w._model_module for w in made} <= core and {w._view_module for w in made} <= core


@pytest.mark.slow
def test_a_notebook_that_onboards_through_the_form_saves_no_secret(
    agent: AgentState, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real thing: a kernel, the magic, the form, and the saved .ipynb with its widget state."""
    import nbformat
    from nbclient import NotebookClient

    # The kernel gets the secrets from its environment, so the cell sources hold none.
    monkeypatch.setenv("NB_SECRET_KEY", CANARY_KEY)
    monkeypatch.setenv("NB_SECRET_TOKEN", CANARY_TOKEN)
    cells = [
        "%load_ext clawdbot_nb",
        "import os\nform = %clawdbot onboard\nform",
        # The custom message the page sends on submit, delivered through the widget's comm handler.
        "def submit(box, value):\n"
        "    box._handle_msg({'content': {'data': {'method': 'custom', 'content': {'event': 'submit', "
        "'value': value}}}, 'buffers': []})\n"
        "submit(form.api_key, os.environ['NB_SECRET_KEY'])\n"
        "form.choice.value = 'token'\nsubmit(form.token, os.environ['NB_SECRET_KEY'])\n"
        "print(form.message.value)\nsubmit(form.token, os.environ['NB_SECRET_TOKEN'])\n"
        "print(form.message.value)",
        "%clawdbot profiles --manage",
        # The kernel's widget state (what a front-end saves) must hold no secret.
        "import ipywidgets, json\nstate = json.dumps(ipywidgets.Widget.get_manager_state())\n"
        "print('secret in kernel widget state:', "
        "any(os.environ[n][13:-5] in state for n in ('NB_SECRET_KEY', 'NB_SECRET_TOKEN')))",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=120, kernel_name="python3", store_widget_state=True).execute(
        cwd=str(tmp_path)
    )
    saved = nbformat.writes(notebook)

    outputs = json.dumps([cell.get("outputs", []) for cell in notebook.cells], ensure_ascii=False)
    assert "application/vnd.jupyter.widget-view+json" in outputs
    assert "not a setup-token" in outputs and "token sk-ant-oat01-…TOK1" in outputs
    assert "secret in kernel widget state: False" in outputs
    assert "application/vnd.jupyter.widget-state+json" in notebook.metadata["widgets"]
    for needle in NEEDLES:
        assert needle not in saved
    assert store_json(agent)["profiles"]["anthropic:default"]["token"] == CANARY_TOKEN


def test_clear_cooldown_on_a_profile_without_one_changes_nothing(agent: AgentState) -> None:
    _store_profiles(agent)
    before = agent.store_file.path.read_bytes()
    table = ProfilesTable(agent)
    table.selector.value = "anthropic:spare"
    table.clear_cooldown_button.click()
    assert "anthropic:spare had no cooldown; nothing changed." in table.message.value
    assert agent.store_file.path.read_bytes() == before  # no errorCount of 0 where there was none
    assert "errorCount" not in json.dumps(store_json(agent).get("usageStats", {}))
