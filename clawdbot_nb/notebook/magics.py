"""The `%clawdbot` line magic and `%%clawdbot` cell magic, with settings through `%config`.

The line magic runs the `clawdbot-nb` commands (see `commands.py`); the cell magic sends its
body as a prompt, streams the reply and shows the usage footer. Lines and prompts take
`$NAME` and `{name}` (see `expand.py`), so no secret ever has to be typed into a cell; a cell
that holds one anyway gets a warning. Errors are one line with the fix; the traceback only
with `%config ClawdbotMagics.debug = True`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Enum, Int, TraitError, Unicode, validate

from clawdbot_nb.errors import UsageError
from clawdbot_nb.notebook.display import STREAM_MODES, show_error, show_footer, show_stream
from clawdbot_nb.notebook.expand import expand_dollars, interpolate, secret_literals

HELP = """Claude from this notebook, with Clawdbot auth profiles and prompt caching.

Line magic (the clawdbot-nb commands; `%clawdbot COMMAND --help` explains each):
  %clawdbot onboard                      a form with the three auth choices (or hidden prompts)
  %clawdbot onboard --non-interactive --auth-choice apiKey --anthropic-api-key $ANTHROPIC_API_KEY
  %clawdbot models status [--json] [--check]
  %clawdbot models auth paste-token --provider anthropic      (hidden prompt)
  %clawdbot models auth setup-token --provider anthropic
  %clawdbot models auth order get|set|clear --provider anthropic [IDS...]
  %clawdbot profiles [--manage]          the auth profiles as a table (.frame: the DataFrame)
  %clawdbot ask "PROMPT" [--ttl 1h] ...  one prompt from a line (the options of %%clawdbot)
  %clawdbot usage [--summary] [--plot]   every call: tokens, cache reads/writes, hit %, cost
  %clawdbot usage --what-if              your calls under always-5m, always-1h and auto
  %clawdbot cache [--timeline]           what is cached now and until when (live countdown)
  %clawdbot chat list|show|reset [NAME]  conversations continued from cell to cell (--chat)
  %clawdbot sim start|stop|advance 6m    the built-in simulator (no key, no network)

Cell magic: the cell is the prompt ({name} fills in notebook variables):
  %%clawdbot [--model M] [--ttl 5m|1h|auto] [--system TEXT_OR_{var}] [--system-file F]
             [--profile ID] [--agent ID] [--max-tokens N] [--no-cache] [-o NAME]
             [--stream-mode update|append|final] [--raw] [--chat [NAME]]

Settings: %config ClawdbotMagics.ttl = "1h" or "auto" (also agent, model, max_tokens, stream_mode,
show_footer, use_widgets, interpolate, debug). `$NAME` takes a notebook variable or an
environment variable, so keys never need to be typed into a cell."""


@magics_class
class ClawdbotMagics(Magics):
    agent = Unicode("", help="Agent id for every call; empty means the config's default agent (main).").tag(
        config=True
    )
    model = Unicode(
        "", help="Model for prompts; empty means the config's primary, else claude-sonnet-5-5."
    ).tag(config=True)
    ttl = Enum(
        ["", "5m", "1h", "auto", "none"],
        default_value="",
        help="Cache TTL for prompts; auto: 5m or 1h per call from your pauses; empty means "
        "clawdbot-nb's own setting, else the config's cacheControlTtl for the model, else 5m.",
    ).tag(config=True)
    max_tokens = Int(1024, help="max_tokens for prompts.").tag(config=True)
    stream_mode = Enum(
        list(STREAM_MODES),
        default_value="update",
        help="update: re-render Markdown as text arrives; append: plain text chunks (front-ends "
        "that cannot update a display); final: show the reply once.",
    ).tag(config=True)
    show_footer = Bool(True, help="Show the usage footer (tokens, cache, cost, TTL) under each reply.").tag(
        config=True
    )
    use_widgets = Bool(True, help="Show forms (ipywidgets) when the front-end can; else hidden prompts.").tag(
        config=True
    )
    interpolate = Bool(True, help="Fill {name} in %%clawdbot cells from notebook variables.").tag(config=True)
    debug = Bool(False, help="Show full tracebacks instead of one-line errors.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._workspaces: dict[tuple[str | None, ...], Any] = {}
        self.simulator_session: Any = None
        #: The Reply of the last prompt sent from this notebook.
        self.last_reply: Any = None
        self._traceback_this_call = False

    @validate("max_tokens")
    def _valid_max_tokens(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError("max_tokens must be at least 1")
        return proposal["value"]

    def _load_config(self, cfg: Any, section_names: Any = None, traits: Any = None) -> None:
        # A bad value in ipython_config.py or a past %config must not stop %load_ext: each
        # setting is applied on its own and a bad one is reported and skipped.
        try:
            super()._load_config(cfg, section_names, traits)
        except TraitError:
            with warnings.catch_warnings():  # one trait at a time, the others look "unrecognized"
                warnings.simplefilter("ignore")
                for name, trait in (traits or self.traits(config=True)).items():
                    try:
                        super()._load_config(cfg, section_names, {name: trait})
                    except TraitError as error:
                        message = f"clawdbot: ignoring the setting ClawdbotMagics.{name}: {error}"
                        print(message, file=sys.stderr)

    # -- workspaces ------------------------------------------------------------------------------

    def workspace(self, agent: str | None = None) -> Any:
        """The Workspace for `agent`, rebuilt when the state dir or the API address changes."""
        from clawdbot_nb.api.workspace import Workspace

        name = agent or self.agent or None
        key = (
            name,
            os.environ.get("CLAWDBOT_STATE_DIR"),
            os.environ.get("CLAWDBOT_CONFIG_PATH"),
            os.environ.get("ANTHROPIC_BASE_URL"),
        )
        workspace = self._workspaces.get(key)
        if workspace is None:
            workspace = Workspace(name, cell=self._execution_count)
            self._workspaces[key] = workspace
        return workspace

    def forget_workspaces(self) -> None:
        for workspace in self._workspaces.values():
            workspace.close()
        self._workspaces.clear()

    def _execution_count(self) -> str | None:
        # The number the user sees in `In[n]`: IPython's displayhook knows it whichever way the
        # running IPython counts (IPython 9 bumps `execution_count` before the cell runs).
        displayhook = getattr(self.shell, "displayhook", None)
        count = getattr(displayhook, "prompt_count", None)
        if count is None:
            count = getattr(self.shell, "execution_count", None)
        return str(count) if count is not None else None

    def can_show_widgets(self) -> bool:
        if not self.use_widgets:
            return False
        try:
            from clawdbot_nb.notebook.widgets import widgets_available
        except ImportError:  # no ipywidgets in this kernel: hidden prompts instead
            return False
        return widgets_available()

    # -- the simulator ---------------------------------------------------------------------------

    def start_simulator(self, port: int = 0, latency: float | None = None, sandbox: bool = True) -> None:
        from clawdbot_nb.notebook.simsession import SimulatorSession

        if self.simulator_session is not None:
            print(f"The simulator is already running at {self.simulator_session.base_url}.")
            return
        self.forget_workspaces()
        self.simulator_session = SimulatorSession.start(port=port, latency=latency, sandbox=sandbox)
        print(self.simulator_session.describe())

    def stop_simulator(self) -> None:
        if self.simulator_session is None:
            print("The simulator is not running.")
            return
        self.forget_workspaces()
        self.simulator_session.stop()
        self.simulator_session = None
        print("Simulator stopped; ANTHROPIC_BASE_URL and the state dir are back as they were.")

    def advance_simulator(self, duration: str) -> None:
        if self.simulator_session is None:
            raise UsageError("The simulator is not running.", fix="start it with %clawdbot sim start")
        from clawdbot_nb.sim.clock import parse_duration

        try:
            seconds = parse_duration(duration)
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            raise UsageError(
                f"{duration!r} is not a duration.",
                fix="give one such as 90s, 6m, 1h or 1h30m, e.g. %clawdbot sim advance 6m",
            )
        self.simulator_session.simulator.clock.advance(seconds)
        print(f"Simulator clock moved forward by {duration}.")

    # -- sending ---------------------------------------------------------------------------------

    def send(
        self,
        prompt: str,
        *,
        agent: str | None = None,
        model: str | None = None,
        ttl: str | None = None,
        system: Any = None,
        profile: str | None = None,
        max_tokens: int | None = None,
        cache: bool = True,
        out: str | None = None,
        stream_mode: str | None = None,
        chat: str | None = None,
    ) -> Any:
        """Stream one prompt's reply into the notebook, then its usage footer; returns the Reply.
        With `chat`, the prompt is the next turn of that conversation (`Workspace.chat`)."""
        from clawdbot_nb.commands.ask import check_prompt

        check_prompt(prompt)
        workspace = self.workspace(agent)
        sender = workspace.chat(chat) if chat else workspace
        stream = sender.stream(
            prompt,
            model=model or self.model or None,
            ttl=ttl or self.ttl or None,
            system=system,
            profile=profile,
            max_tokens=max_tokens or self.max_tokens,
            cache=cache,
        )
        show_stream(stream, stream_mode or self.stream_mode)
        reply = stream.reply
        self.last_reply = reply
        if out:
            self.shell.user_ns[out] = reply
        if self.show_footer:
            show_footer(reply)
        return reply

    def send_from_args(self, prompt: str, args: argparse.Namespace, stream_mode: str | None) -> Any:
        """`send` with the options of `ask` or `%%clawdbot` (the same names in both parsers)."""
        from clawdbot_nb.commands.ask import read_system

        return self.send(
            prompt,
            agent=args.agent,
            model=args.model,
            ttl=args.ttl,
            system=read_system(args),
            profile=args.profile,
            max_tokens=args.max_tokens,
            cache=not args.no_cache,
            out=args.out,
            stream_mode=stream_mode,
            chat=getattr(args, "chat", None),
        )

    # -- the magic -------------------------------------------------------------------------------

    def _expand(self, argument: str) -> str:
        namespace = self.shell.user_ns if self.shell is not None else {}
        return interpolate(expand_dollars(argument, namespace), namespace)

    def _split(self, line: str, *, expand: bool = True) -> list[str]:
        try:
            arguments = shlex.split(line)
            return [self._expand(argument) for argument in arguments] if expand else arguments
        except ValueError as error:
            raise UsageError(f"Cannot read the magic's arguments: {error}.", fix="check the quotes") from None

    def _warn_about_literals(self, source: str) -> None:
        from clawdbot_nb.state.credentials import mask_secret

        for literal in dict.fromkeys(secret_literals(source)):
            print(
                f"clawdbot: warning: this cell holds a literal secret ({mask_secret(literal)}); the saved "
                "notebook and IPython's history keep it. Use $ANTHROPIC_API_KEY (an environment variable) "
                "or %clawdbot onboard (hidden input) instead, and delete it from the cell.",
                file=sys.stderr,
            )

    @no_var_expand
    @line_cell_magic
    def clawdbot(self, line: str, cell: str | None = None) -> Any:
        """Claude with Clawdbot auth profiles and prompt caching; `%clawdbot --help` for everything."""
        self._traceback_this_call = False  # `%clawdbot --debug …` asks for it once
        self._warn_about_literals(line + "\n" + (cell or ""))
        from clawdbot_nb.errors import on_surface

        with on_surface("magic"):  # the error shown speaks the magic's words too
            try:
                if cell is None:
                    return self._run_line(line)
                return self._run_cell(line, cell)
            except SystemExit:  # argparse already printed the help or the usage error
                return None
            except KeyboardInterrupt:
                print("clawdbot: interrupted", file=sys.stderr)
                return None
            except EOFError:  # Ctrl-D (or an empty stdin) at a prompt: the user chose to stop
                print("clawdbot: cancelled; nothing saved.", file=sys.stderr)
                return None
            except Exception as error:
                if self.debug or self._traceback_this_call:
                    raise
                show_error(error)
                return None

    def _run_line(self, line: str) -> Any:
        from clawdbot_nb.notebook.commands import build_magic_parser

        argv = self._split(line)
        parser = build_magic_parser(self)
        if not argv:
            print(HELP)
            return None
        args = parser.parse_args(argv)
        if getattr(args, "raw", False) and getattr(args, "prompt", None) is not None:
            # `ask --raw`: the prompt exactly as written, without {name} or $NAME filled in.
            args.prompt = parser.parse_args(self._split(line, expand=False)).prompt
        self._traceback_this_call = args.debug
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return None
        if hasattr(args, "agent") and args.agent is None and self.agent:
            args.agent = self.agent
        result = handler(args)
        # The CLI's handlers return exit codes; a notebook shows what they printed instead.
        return None if isinstance(result, int) else result

    def _cell_parser(self) -> argparse.ArgumentParser:
        from clawdbot_nb.cli import SafeArgumentParser

        parser = SafeArgumentParser(
            prog="%%clawdbot",
            description="Send the cell as a prompt; the reply streams in, then a usage footer.",
        )
        parser.add_argument("--model", metavar="M")
        parser.add_argument("--ttl", choices=["5m", "1h", "auto", "none"])
        parser.add_argument("--system", metavar="TEXT", help="system prompt; {var} and $VAR are filled in")
        parser.add_argument("--system-file", metavar="F")
        parser.add_argument("--profile", metavar="ID", help="use this auth profile only")
        parser.add_argument("--agent", metavar="ID")
        parser.add_argument("--max-tokens", type=int, metavar="N")
        parser.add_argument("--no-cache", action="store_true", help="send no cache breakpoints")
        parser.add_argument("-o", "--out", metavar="NAME", help="store the Reply in this notebook variable")
        parser.add_argument("--stream-mode", choices=list(STREAM_MODES))
        parser.add_argument("--raw", action="store_true", help="do not fill {name} into the cell")
        parser.add_argument(
            "--chat",
            nargs="?",
            const="default",
            metavar="NAME",
            help="continue the conversation NAME (default 'default'); re-running a cell replaces its turn",
        )
        return parser

    def _run_cell(self, line: str, cell: str) -> None:
        args = self._cell_parser().parse_args(self._split(line))
        namespace = self.shell.user_ns if self.shell is not None else {}
        prompt = cell if args.raw or not self.interpolate else interpolate(cell, namespace)
        self.send_from_args(prompt.strip(), args, args.stream_mode)
