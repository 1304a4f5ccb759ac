"""The ipywidgets forms of the notebook: onboarding (the three auth choices of the Clawdbot docs),
the profiles table with its actions, and a prompt form that streams the reply and its cache verdict.

Core widgets, except the password boxes: those are `SecretInput` (a small anywidget), whose
value stays in the page until submitted and then reaches the kernel in one custom message, so
no secret is ever in widget state or in the saved notebook; everything shown is masked. Where
widgets cannot render, `onboard_without_widgets` runs the same flows with `getpass`.
This module is imported only when a form is shown, never by `import clawdbot_nb`.
"""

from __future__ import annotations

import contextlib
import html
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from clawdbot_nb import catalog
from clawdbot_nb.errors import ClawdbotError, NoCredentialsError, UsageError
from clawdbot_nb.rendering import html_text
from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.credentials import mask_secret, normalize_pasted_secret, provider_of
from clawdbot_nb.state.durations import format_remaining, parse_duration_ms
from clawdbot_nb.state.onboarding import (
    OnboardResult,
    clear_order,
    clear_profile_cooldown,
    get_order,
    import_claude_cli,
    remove_profile,
    save_api_key,
    save_setup_token,
    set_order,
    token_profile_id,
)
from clawdbot_nb.state.wizard import WIZARD_CHOICES, Prompter, TerminalPrompter, run_wizard

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

    from clawdbot_nb.api.reply import Reply
    from clawdbot_nb.api.workspace import Workspace

#: The wording of notebook-ux.md §3.4: reusing subscription credentials is the user's call.
OPT_IN_NOTE = (
    "Claude subscription credentials are meant for Claude Code and Anthropic's own apps; reusing them "
    "here is your opt-in choice (refreshed tokens are written back so Claude Code keeps working)."
)
ENV_API_KEY = "ANTHROPIC_API_KEY"
TTL_OPTIONS = ("5m", "1h")
_ERROR_COLOR = "#b00020"
_OK_COLOR = "#1b7f3b"
_NOTE_COLOR = "#a15c00"


def widgets_available() -> bool:
    """Whether forms can be shown: ipywidgets imports and IPython runs as a kernel with comms.

    False in plain Python and terminal IPython (no kernel, so no front-end to draw on). The
    kernel cannot tell whether a front-end really renders widgets, which is why every form also
    names its non-widget equivalent.
    """
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and getattr(shell, "kernel", None) is not None
    except Exception:  # a broken install or an odd shell must never break the caller
        return False


# -- shared pieces -------------------------------------------------------------------------------


def _ipywidgets() -> Any:
    import ipywidgets

    return ipywidgets


def _secret_input(**traits: Any) -> Any:
    """A password box whose value never enters widget state (see `secret_field.py`)."""
    from clawdbot_nb.notebook.secret_field import SecretInput

    return SecretInput(**traits)


def _redact(text: str) -> str:
    from clawdbot_nb.state.redaction import redact

    return redact(" ".join(text.split()))


def _error_text(error: BaseException) -> str:
    """One line, secrets masked; a ClawdbotError carries its fix, anything else its type."""
    if isinstance(error, ClawdbotError):
        return _redact(str(error))
    return _redact(f"unexpected {type(error).__name__}: {error}")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?:" else text + "."


def _error_html(error: BaseException) -> str:
    """What went wrong on one line and, under it, what to do (not run together as in a terminal)."""
    if not isinstance(error, ClawdbotError) or not error.fix:
        return _line(_error_text(error), "error")
    where = f"{error.path}: " if error.path else ""
    fix = html_text(_sentence(_redact(error.fix)))
    return _line(_sentence(_redact(where + error.message)), "error") + (
        f'<div style="color:{_ERROR_COLOR};opacity:0.85;padding-left:1.2em">→ {fix}</div>'
    )


def _line(text: str, kind: str = "info") -> str:
    """HTML for one message line. Quotes stay as typed, so the text reads the same as in a terminal;
    a `$` stays a dollar (Lab would typeset `$…$` in an HTML widget)."""
    body = html_text(text)
    if kind == "error":
        return f'<div style="color:{_ERROR_COLOR}">✗ {body}</div>'
    if kind == "ok":
        return f'<div style="color:{_OK_COLOR}">✓ {body}</div>'
    if kind == "note":
        return f'<div style="color:{_NOTE_COLOR}">⚠ {body}</div>'
    return f"<div>{body}</div>"


class _Form:
    """What every form shares: its widgets, a message line, display and close."""

    #: The plain-text stand-in shown where widgets cannot render.
    plain_hint = ""

    def __init__(self) -> None:
        self._created: list[ipywidgets.Widget] = []
        self.message = self._make("HTML", value="")

    def _make(self, kind: str | type, /, **traits: Any) -> Any:
        factory = getattr(_ipywidgets(), kind) if isinstance(kind, str) else kind
        widget = factory(**traits)
        self._created.append(widget)
        return widget

    def _button(self, description: str, handler: Callable[[], None], **traits: Any) -> Any:
        button = self._make("Button", description=description, **traits)
        # The handler takes no argument, so no closure ever holds more than the form itself.
        button.on_click(lambda _button: self._run(handler))
        return button

    def _run(self, handler: Callable[[], None]) -> None:
        # `print` in a callback goes nowhere in JupyterLab (ipywidgets#2380): every outcome,
        # including an unexpected exception, ends up in the message line instead.
        from clawdbot_nb.errors import on_surface

        # A form lives in a notebook: fixes name the %clawdbot commands.
        with on_surface("magic"):
            try:
                handler()
            except Exception as error:
                self._fail(error)

    def _say(self, text: str, kind: str = "info") -> None:
        self.message.value = _line(_redact(text), kind)

    def _fail(self, error: BaseException) -> None:
        self.message.value = _error_html(error)

    def _clear_message(self, change: Any = None) -> None:
        """The last outcome goes as soon as the user changes a field: it was about the old value."""
        self.message.value = ""

    @property
    def widget(self) -> ipywidgets.Widget:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # A closed widget has no view any more; the hint still says what to run instead.
        render = getattr(self.widget, "_repr_mimebundle_", None)
        bundle = dict((render(**kwargs) if callable(render) else None) or {})
        bundle["text/plain"] = self.plain_hint
        return bundle

    def close(self) -> None:
        """Close every widget of the form (it disappears from the notebook)."""
        for widget in self._created:
            widget.close()


# -- onboarding ----------------------------------------------------------------------------------


class OnboardingForm(_Form):
    """The onboarding wizard as a form: the three choices of the Clawdbot docs.

    `.widget` is the container; the form displays itself. A secret goes from its password box
    (emptied by the page as it is sent) straight into the auth store; messages show masks.
    """

    plain_hint = (
        "Onboarding form (Anthropic API key | setup-token | Claude Code CLI login). "
        "No form shown? %clawdbot onboard --no-widget"
    )

    def __init__(self, agent: AgentState, *, on_saved: Callable[[OnboardResult], None] | None = None) -> None:
        super().__init__()
        widgets = _ipywidgets()
        self.agent = agent
        self.on_saved = on_saved
        #: The last profile saved (masked by construction), or None.
        self.result: OnboardResult | None = None
        self._hints = {choice: hint for choice, _, hint in WIZARD_CHOICES}
        wide = {"description_width": "9em"}
        field_layout = widgets.Layout(width="36em")

        self.choice = self._make(
            "RadioButtons",
            options=[(label, choice) for choice, label, _ in WIZARD_CHOICES],
            value=WIZARD_CHOICES[0][0],
            layout=widgets.Layout(width="auto"),
        )
        self.hint = self._make("HTML", value="")

        # API key
        self.api_key = self._make(
            _secret_input,
            description="API key",
            placeholder="sk-ant-api03-… (from the Anthropic Console)",
        )
        self.api_key.on_submit(lambda key: self._run(lambda: self._save_api_key(key)))
        self.api_key.on_typing(self._clear_message)
        self.use_env: Any = None
        env_key = normalize_pasted_secret(os.environ.get(ENV_API_KEY, ""))
        if env_key:
            # Only the mask goes into the label; the key itself is read again at save time.
            self.use_env = self._make(
                "Checkbox",
                value=True,
                indent=False,
                description=f"Use {ENV_API_KEY} from the environment ({mask_secret(env_key)})",
                layout=widgets.Layout(width="auto"),
            )
            self.use_env.observe(self._env_toggled, names="value")
            self.api_key.input_disabled = True
        api_rows = [self.api_key]
        if self.use_env is not None:
            api_rows.insert(0, self.use_env)
        self.api_key_panel = self._make("VBox", children=api_rows)

        # setup-token
        self.token = self._make(
            _secret_input,
            description="Setup-token",
            placeholder="sk-ant-oat01-… (printed by `claude setup-token`)",
        )
        self.token.on_submit(lambda token: self._run(lambda: self._save_token(token)))
        self.token.on_typing(self._clear_message)
        self.token_name = self._make(
            "Text", description="Token name", placeholder="blank = default", style=wide, layout=field_layout
        )
        self.token_expiry = self._make(
            "Text",
            description="Expires in",
            placeholder="blank = never, or e.g. 365d",
            style=wide,
            layout=field_layout,
        )
        self.token_target = self._make("HTML", value="")
        for field in (self.token_name, self.token_expiry):
            field.observe(self._describe_token_target, names="value")
            field.observe(self._clear_message, names="value")
        self._describe_token_target()
        # The box with its Save button comes last: Save sends what is in the fields above too.
        self.token_panel = self._make(
            "VBox", children=[self.token_name, self.token_expiry, self.token_target, self.token]
        )

        # Claude Code CLI
        self.cli_status = self._make("HTML", value="")
        self.reuse_cli_button = self._button(
            f"Reuse it as {claude_cli.CLAUDE_CLI_PROFILE_ID}",
            self._reuse_cli,
            button_style="primary",
            disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self.look_again_button = self._button("Look again", self.check_claude_cli)
        self.cli_panel = self._make(
            "VBox",
            children=[
                self.cli_status,
                self._make("HBox", children=[self.reuse_cli_button, self.look_again_button]),
            ],
        )
        self._cli_checked = False

        self._panels = {"apiKey": self.api_key_panel, "token": self.token_panel, "claude-cli": self.cli_panel}
        self.panel = self._make("VBox", children=[])
        self.choice.observe(self._choice_changed, names="value")
        self._show_choice(self.choice.value)
        intro = (
            f"Anthropic auth for agent {agent.agent_id}, saved as an auth profile in "
            f"{agent.store_file.path.name}. This form keeps no secret: a password box is emptied as "
            "it is sent."
        )
        title = self._make("HTML", value=_line(intro))
        self._widget = self._make("VBox", children=[title, self.choice, self.hint, self.panel, self.message])

    @property
    def widget(self) -> ipywidgets.VBox:
        return self._widget

    # -- choice --------------------------------------------------------------------------------

    def _choice_changed(self, change: dict[str, Any]) -> None:
        self._show_choice(change["new"])

    def _show_choice(self, choice: str) -> None:
        self.panel.children = [self._panels[choice]]
        self.hint.value = f'<div style="opacity:0.75">{html.escape(self._hints[choice], quote=False)}</div>'
        self.message.value = ""
        if choice == "claude-cli" and not self._cli_checked:
            # Read only when asked for: on macOS this may reach the keychain.
            self.check_claude_cli()

    def _env_toggled(self, change: dict[str, Any]) -> None:
        self.api_key.input_disabled = bool(change["new"])
        self._clear_message()

    def _describe_token_target(self, change: dict[str, Any] | None = None) -> None:
        profile = token_profile_id(self.token_name.value)
        expiry = self.token_expiry.value.strip()
        if not expiry:
            self.token_target.value = _line(f"Saves as {profile}, no expiry.")
            return
        try:
            parse_duration_ms(expiry, argument="expiry")
        except ClawdbotError as error:
            self.token_target.value = _line(_error_text(error), "error")
            return
        self.token_target.value = _line(f"Saves as {profile}, expiring in {expiry}.")

    # -- saving --------------------------------------------------------------------------------

    def _saved(self, result: OnboardResult) -> None:
        self.result = result
        self._say(str(result), "ok")
        if self.on_saved is not None:
            try:
                self.on_saved(result)
            except Exception as error:
                self.message.value += _line(f"saved, but on_saved failed: {_error_text(error)}", "error")

    def _save_api_key(self, key: str) -> None:
        if self.use_env is not None and self.use_env.value:
            key = os.environ.get(ENV_API_KEY, "")
            if not normalize_pasted_secret(key):
                raise UsageError(
                    f"{ENV_API_KEY} is no longer set in this kernel's environment.",
                    fix="untick the box and paste the key",
                )
        self._saved(save_api_key(self.agent, key))

    def _save_token(self, token: str) -> None:
        result = save_setup_token(
            self.agent,
            token,
            profile_id=token_profile_id(self.token_name.value),
            expires_in=self.token_expiry.value.strip() or None,
            expires_argument="expiry",
        )
        self._saved(result)

    # -- Claude Code CLI -----------------------------------------------------------------------

    def check_claude_cli(self) -> None:
        """Look for a Claude Code login and say what was found (masked), or what to do."""
        self._cli_checked = True
        self.reuse_cli_button.disabled = True
        try:
            login = claude_cli.require_claude_cli_login()
        except NoCredentialsError as error:
            self.cli_status.value = _line(_error_text(error), "note")
            return
        except ClawdbotError as error:  # an unreadable credentials file names itself and the fix
            self.cli_status.value = _line(_error_text(error), "error")
            return
        remaining = login.expires_ms - now_ms()
        if remaining > 0:
            state = f"expires in {format_remaining(remaining)}"
        else:
            state = "expired (will be refreshed)" if login.refresh else "expired"
        refresh = "refreshable" if login.refresh else "no refresh token"
        found = (
            f"Found a Claude Code login in {login.location}: {mask_secret(login.access)}, {state}, {refresh}."
        )
        usable = remaining > 0 or bool(login.refresh)
        # `login` holds the tokens and is dropped on return: only the masked text is kept.
        lines = [_line(found), _line(OPT_IN_NOTE, "note")]
        if not usable:
            lines.append(
                _line("It cannot be refreshed: run `claude` to log in again, then Look again.", "error")
            )
        self.cli_status.value = "".join(lines)
        self.reuse_cli_button.disabled = not usable

    def _reuse_cli(self) -> None:
        self._saved(import_claude_cli(self.agent))


# -- profiles --------------------------------------------------------------------------------------


def profiles_html(frame: pd.DataFrame, agent: str = "main") -> str:
    """The profiles DataFrame as the compact table `%clawdbot profiles` shows (secrets are
    already masked in it)."""
    from clawdbot_nb.tables import profiles_table

    return profiles_table(frame, agent=agent).html()


def _parse_ids(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


class ProfilesTable(_Form):
    """The agent's auth profiles (masked) with actions: clear a cooldown, remove a profile
    (after a confirmation), edit the explicit order, refresh."""

    plain_hint = (
        "Profiles table with actions. No form shown? %clawdbot profiles and %clawdbot models auth order"
    )

    def __init__(self, agent: AgentState) -> None:
        super().__init__()
        widgets = _ipywidgets()
        self.agent = agent
        self._orders: dict[str, tuple[list[str], bool]] = {}
        self._order_provider: str | None = None
        self._refreshing = False
        #: The profile waiting for the removal to be confirmed.
        self.pending_removal: str | None = None

        # The table scrolls inside its own box; the buttons below stay where they are.
        self.table = self._make("HTML", value="", layout=widgets.Layout(overflow="auto", max_width="100%"))
        self.order_info = self._make("HTML", value="")
        self.selector = self._make(
            "Dropdown", description="Profile", options=[], layout=widgets.Layout(width="28em")
        )
        self.selector.observe(self._selection_changed, names="value")
        self.clear_cooldown_button = self._button("Clear cooldown", self._clear_cooldown)
        self.remove_button = self._button("Remove…", self._ask_removal, button_style="danger")
        self.confirm_text = self._make("HTML", value="")
        self.confirm_remove_button = self._button("Yes, remove", self._remove, button_style="danger")
        self.cancel_remove_button = self._button("Cancel", self._cancel_removal)
        self.confirm_box = self._make(
            "HBox",
            children=[self.confirm_text, self.confirm_remove_button, self.cancel_remove_button],
            layout=widgets.Layout(display="none"),
        )
        self.order = self._make(
            "Text",
            description="Order",
            placeholder="anthropic:work, anthropic:default",
            layout=widgets.Layout(width="36em"),
        )
        self.up_button = self._button("↑ Up", lambda: self._move(-1))
        self.down_button = self._button("↓ Down", lambda: self._move(1))
        self.set_order_button = self._button("Set order", self._set_order, button_style="primary")
        self.clear_order_button = self._button("Clear order", self._clear_order)
        self.refresh_button = self._button("Refresh", self._refresh_clicked)
        self._widget = self._make(
            "VBox",
            children=[
                self.table,
                self._make("HBox", children=[self.selector, self.clear_cooldown_button, self.remove_button]),
                self.confirm_box,
                self.order_info,
                self._make(
                    "HBox",
                    children=[
                        self.order,
                        self.up_button,
                        self.down_button,
                        self.set_order_button,
                        self.clear_order_button,
                    ],
                ),
                self._make("HBox", children=[self.refresh_button]),
                self.message,
            ],
        )
        self._run(self.refresh)

    @property
    def widget(self) -> ipywidgets.VBox:
        return self._widget

    # -- reading -------------------------------------------------------------------------------

    def refresh(self, *, keep_order_text: bool = False) -> None:
        """Re-read the store (and config) and redraw the table, selector and order.

        `keep_order_text` keeps an order being edited (not yet set) in the order field.
        """
        from clawdbot_nb.state.status import models_status

        report = models_status(self.agent)
        frame = report.profiles_frame()
        if frame.empty:
            self.table.value = _line(
                f"No auth profiles for agent {self.agent.agent_id} yet: %clawdbot onboard adds one."
            )
        else:
            self.table.value = profiles_html(frame, self.agent.agent_id)
        self._orders = {
            provider: (list(order.ordered), order.explicit) for provider, order in report.orders.items()
        }
        ids = list(frame.index)
        previous = self.selector.value
        with self._quiet_selection():
            self.selector.options = ids
            self.selector.value = previous if previous in ids else (ids[0] if ids else None)
        self._show_order(reset_text=not keep_order_text or self.provider != self._order_provider)

    def _refresh_clicked(self) -> None:
        self.refresh()
        self._say("Refreshed.")

    @property
    def provider(self) -> str:
        """The provider whose order is edited: the selected profile's (anthropic by default)."""
        return provider_of(self.selector.value) if self.selector.value else "anthropic"

    @contextlib.contextmanager
    def _quiet_selection(self) -> Iterator[None]:
        # Replacing the options moves the selection through intermediate values; only the
        # user's own picks should cancel a pending removal.
        self._refreshing = True
        try:
            yield
        finally:
            self._refreshing = False

    def _show_order(self, *, reset_text: bool) -> None:
        provider = self.provider
        ordered, explicit = self._orders.get(provider, ([], False))
        how = "explicit order" if explicit else "round robin (no explicit order)"
        tried = ", ".join(ordered) if ordered else "no usable profile"
        self.order_info.value = _line(f"{provider}: {how}; tried now as {tried}.")
        if reset_text:
            stored = get_order(self.agent, provider)
            self.order.value = ", ".join(stored if stored else ordered)
            self._order_provider = provider

    def _selection_changed(self, change: dict[str, Any]) -> None:
        if self._refreshing:
            return
        self._cancel_removal()
        # An order being edited stays while the user picks profiles of the same provider.
        self._show_order(reset_text=self.provider != self._order_provider)

    def _selected(self) -> str:
        if not self.selector.value:
            raise UsageError(
                f"Agent {self.agent.agent_id} has no profile to act on.", fix="add one with %clawdbot onboard"
            )
        return self.selector.value

    # -- actions -------------------------------------------------------------------------------

    def _clear_cooldown(self) -> None:
        profile = self._selected()
        # Clearing resets the error count and the cooldown; a profile with neither is left as it is
        # (clearing would still write an error count of 0 where there was none).
        stats = self.agent.store_file.load().stats(profile)
        cooling = stats.cooldown_until is not None and stats.cooldown_until > now_ms()
        if not cooling and not stats.error_count:
            self._say(f"{profile} had no cooldown; nothing changed.")
            return
        clear_profile_cooldown(self.agent, profile)
        self.refresh(keep_order_text=True)
        self._say(f"Cleared the cooldown of {profile}.", "ok")

    def _ask_removal(self) -> None:
        profile = self._selected()
        self.pending_removal = profile
        self.confirm_text.value = _line(
            f"Remove {profile} and its credential from agent {self.agent.agent_id}?", "note"
        )
        self.confirm_box.layout.display = "flex"

    def _cancel_removal(self) -> None:
        self.pending_removal = None
        self.confirm_text.value = ""
        self.confirm_box.layout.display = "none"

    def _remove(self) -> None:
        profile = self.pending_removal
        self._cancel_removal()
        if profile is None:
            raise UsageError("Nothing to remove.", fix="pick a profile and press Remove… first")
        removed = remove_profile(self.agent, profile)
        self.refresh()
        if removed:
            self._say(f"Removed {profile}.", "ok")
        else:
            self._say(f"{profile} was already gone.")

    def _move(self, step: int) -> None:
        profile = self._selected()
        ids = _parse_ids(self.order.value)
        if profile not in ids:
            ids.append(profile)
        index = ids.index(profile)
        target = max(0, min(len(ids) - 1, index + step))
        ids.insert(target, ids.pop(index))
        self.order.value = ", ".join(ids)
        self._say("Press Set order to save this order.")

    def _set_order(self) -> None:
        ids = _parse_ids(self.order.value)
        provider = provider_of(ids[0]) if ids and ":" in ids[0] else self.provider
        saved = set_order(self.agent, provider, ids)
        self.refresh()
        self._say(f"Order for {provider} set: {', '.join(saved)}.", "ok")

    def _clear_order(self) -> None:
        provider = self.provider
        clear_order(self.agent, provider)
        self.refresh()
        self._say(f"Order for {provider} cleared: round robin again.", "ok")


# -- prompts ---------------------------------------------------------------------------------------


def _default_model(workspace: Workspace) -> str:
    if workspace.model:
        return workspace.model.removeprefix("anthropic/")
    try:
        primary = workspace.agent.config().primary_model
    except ClawdbotError:
        primary = None  # a broken config is reported when sending, with its line and fix
    if primary and (primary.startswith("anthropic/") or "/" not in primary):
        return primary.removeprefix("anthropic/")
    return catalog.DEFAULT_MODEL


class PromptForm(_Form):
    """A prompt, a model, a TTL (5m/1h) and Send: the reply streams in, then its cache verdict."""

    plain_hint = "Prompt form. No form shown? Use the %%clawdbot cell magic (--model, --ttl 5m|1h)."

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        widgets = _ipywidgets()
        from clawdbot_nb.notebook.display import UPDATE_INTERVAL_S

        self.workspace = workspace
        self.update_interval_s = UPDATE_INTERVAL_S
        #: The last complete reply, or None.
        self.last_reply: Reply | None = None
        wide = widgets.Layout(width="48em")
        model = _default_model(workspace)
        models = list(dict.fromkeys([model, *catalog.SUGGESTED_MODELS]))

        self.prompt = self._make("Textarea", placeholder="Ask Claude…", description="Prompt", layout=wide)
        self.model = self._make("Dropdown", options=models, value=model, description="Model")
        ttl = workspace.ttl if workspace.ttl in TTL_OPTIONS else TTL_OPTIONS[0]
        self.ttl = self._make(
            "ToggleButtons",
            options=list(TTL_OPTIONS),
            value=ttl,
            description="Cache TTL",
            tooltips=["cache writes cost 1.25x, kept 5 minutes", "cache writes cost 2x, kept 1 hour"],
        )
        self.system = self._make(
            "Textarea", placeholder="Optional system prompt (cached)", description="System", layout=wide
        )
        self.send_button = self._button("Send", self.send, button_style="primary")
        for field in (self.prompt, self.system):
            field.observe(self._clear_message, names="value")
        self.output = self._make("Output")
        self.footer = self._make("HTML", value="")
        self._widget = self._make(
            "VBox",
            children=[
                self.prompt,
                self.system,
                self._make("HBox", children=[self.model, self.ttl]),
                self.send_button,
                self.output,
                self.footer,
                self.message,
            ],
        )

    @property
    def widget(self) -> ipywidgets.VBox:
        return self._widget

    def _show_text(self, text: str) -> None:
        from clawdbot_nb.rendering import markdown_text

        # Replacing the Output's outputs (not display handles) also works where update_display
        # is unreliable (vscode-jupyter#12755) and needs no kernel to test.
        self.output.outputs = (
            {
                "output_type": "display_data",
                "data": {"text/markdown": markdown_text(text), "text/plain": text},
                "metadata": {},
            },
        )

    def _stream(self, chunks: Iterable[str]) -> None:
        parts: list[str] = []
        last = 0.0
        for chunk in chunks:
            parts.append(chunk)
            now = time.monotonic()
            if now - last >= self.update_interval_s:
                self._show_text("".join(parts))
                last = now
        self._show_text("".join(parts))

    def send(self) -> None:
        """Send the prompt as the form is filled in (what the Send button does)."""
        self.message.value = ""
        self.footer.value = ""
        self.output.outputs = ()
        self.send_button.disabled = True
        try:
            from clawdbot_nb.commands.ask import check_prompt

            check_prompt(self.prompt.value)
            stream = self.workspace.stream(
                self.prompt.value,
                model=self.model.value,
                ttl=self.ttl.value,
                system=self.system.value if self.system.value.strip() else None,
            )
            self._stream(stream)
            reply = stream.reply
            assert reply is not None
            self._show_text(reply.text)
            self.last_reply = reply
            lines = [f'<div style="font-size:smaller;opacity:0.8">{html_text(reply.footer())}</div>']
            lines += [_line(note, "note") for note in reply.notes()]
            self.footer.value = "".join(lines)
        finally:
            self.send_button.disabled = False


# -- without widgets -------------------------------------------------------------------------------


def onboard_without_widgets(agent: AgentState, prompter: Prompter | None = None) -> OnboardResult | None:
    """The same three choices with `input` and a hidden `getpass` prompt (terminal IPython,
    front-ends that draw no widgets). Returns what was saved, or None."""
    return run_wizard(agent, prompter if prompter is not None else TerminalPrompter())
