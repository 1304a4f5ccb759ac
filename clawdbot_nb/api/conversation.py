"""Conversations that continue from call to call and from cell to cell: `Workspace.chat(name)`.

    chat = ws.chat("review", system=contract)
    chat.ask("Which clauses limit liability?")
    chat.ask("And which of them are unusual?")   # sends the first turn as history
    chat.history, chat.usage(), chat.reset()

Each turn sends the turns before it as history and marks itself for caching (`cache_last_turn`),
so the next turn reads the whole conversation back and writes only what is new (the cookbook's
`read(n+1) = read(n) + write(n)`).

Notebook semantics: a turn belongs to the cell run that sent it. When a cell that already owns a
turn is run again, its new turn replaces the old one and drops every turn after it, as editing a
message would; the turns before it are sent unchanged, a cached prefix. A cell is its front-end's
cell id (JupyterLab, Notebook 7 and VS Code send one); without an id, each run is new and appends.
`place_turn` is that rule, a pure function.

Turns are kept with the ledger (`conversation_store.py`), so a conversation survives a kernel
restart and is shared by the agent's kernels; the ledger rows of its calls carry its name.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clawdbot_nb.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from clawdbot_nb.api.conversation_store import ConversationStore
    from clawdbot_nb.api.reply import Reply
    from clawdbot_nb.api.streaming import AsyncReplyStream, ReplyStream
    from clawdbot_nb.api.workspace import Workspace

DEFAULT_NAME = "default"
MAX_NAME_CHARS = 80
#: Options a conversation owns: its history is its turns.
_OWN_OPTIONS = ("history",)


def check_name(name: Any, argument: str = "name") -> str:
    """A conversation name as given (one line, at most 80 characters); `DEFAULT_NAME` for None."""
    if name is None:
        return DEFAULT_NAME
    if not isinstance(name, str) or not name.strip():
        raise UsageError(
            f"A conversation {argument} must be a non-empty string, got {name!r}.", fix="e.g. 'review'"
        )
    if len(name) > MAX_NAME_CHARS or any(not c.isprintable() for c in name):
        raise UsageError(
            f"The conversation {argument} {name[:MAX_NAME_CHARS]!r}… is not one short printable line.",
            fix=f"use at most {MAX_NAME_CHARS} printable characters, e.g. 'review'",
        )
    return name.strip()


# -- turns and where a new one goes --------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One exchange: the prompt as sent and the reply's text, with who sent it and when."""

    number: int  # 1-based position in the conversation
    prompt: str | list[dict[str, Any]]
    reply: str
    time_ms: int  # when it was sent
    model: str | None = None
    request_id: str | None = None
    #: The front-end's cell id (None outside a notebook, or when the front-end sends none).
    cell: str | None = None
    #: The cell run that sent it (kernel session + execution count): turns of one run stay.
    run: str | None = None
    #: What a person calls that cell: `In[7]`.
    label: str | None = None

    def messages(self) -> list[dict[str, Any]]:
        # An empty reply (max_tokens reached before any text) would be an invalid message.
        return [{"role": "user", "content": self.prompt}, {"role": "assistant", "content": self.reply or "…"}]


@dataclass(frozen=True)
class Owner:
    """Who sends a turn: a cell (its id), the run of it, and its label."""

    cell: str | None = None
    run: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class TurnPlacement:
    """Where a new turn goes: at `index` (0-based); `replaced` are the turns it removes (the one
    its cell sent before, and every later one)."""

    index: int
    replaced: tuple[Turn, ...] = ()


def place_turn(turns: Sequence[Turn], owner: Owner) -> TurnPlacement:
    """A new turn from `owner` goes after the others, unless an earlier run of the same cell sent
    a turn: then it takes the place of that run's first turn and the turns from there on go."""
    if owner.cell is not None:
        for index, turn in enumerate(turns):
            if turn.cell == owner.cell and turn.run != owner.run:
                return TurnPlacement(index, tuple(turns[index:]))
    return TurnPlacement(len(turns))


def cell_owner(shell: Any) -> Owner:
    """The running cell of an IPython `shell`: its id when the front-end sent one (ipykernel puts
    it in the execution info), the run (this kernel's session and `In[n]` count), and `In[n]`.
    Outside a running cell (a widget callback, a thread) nobody owns the turn."""
    displayhook = getattr(shell, "displayhook", None)
    result = getattr(displayhook, "exec_result", None)
    if result is None:
        return Owner()
    from clawdbot_nb.api.ledger import current_session

    count = getattr(displayhook, "prompt_count", None)
    if count is None:
        count = getattr(shell, "execution_count", None)
    cell_id = getattr(getattr(result, "info", None), "cell_id", None) or None
    label = f"In[{count}]" if count is not None else None
    return Owner(cell_id, f"{current_session()}:{count}:{id(result)}", label)


def current_owner() -> Owner:
    """The notebook cell this code runs in (nobody, outside IPython)."""
    ipython = sys.modules.get("IPython")  # only when IPython is already running: never imported
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return cell_owner(shell) if shell is not None else Owner()


# -- what the footer says ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatNote:
    """The conversation part of a reply's footer: which turn this was and what it replaced."""

    name: str
    number: int
    #: Turn numbers this one replaced: its cell's earlier turn and the ones after it.
    replaced: tuple[int, ...] = ()
    #: The conversation had changed since this turn was sent (another kernel or a reset).
    changed_meanwhile: bool = False

    def __str__(self) -> str:
        text = f'chat "{self.name}" turn {self.number}'
        if self.replaced:
            later = [n for n in self.replaced if n != self.number]
            text += " re-run"
            if later:
                span = f"{later[0]}" if len(later) == 1 else f"{later[0]}–{later[-1]}"
                text += f", turn{'s' if len(later) > 1 else ''} {span} dropped"
        if self.changed_meanwhile:
            text += " (changed meanwhile by another kernel: this turn follows the history it was sent with)"
        return text


def preview(content: Any, width: int = 200) -> str:
    if isinstance(content, list):
        content = " ".join(
            b.get("text", f"[{b.get('type', 'block')}]") if isinstance(b, dict) else str(b) for b in content
        )
    text = " ".join(str(content).split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- the conversation ------------------------------------------------------------------------------


class Conversation:
    """A named conversation of one agent: `ask`, `stream`, `aask`, `astream`, `history`, `reset`,
    `usage`. Per-turn options are those of `Workspace.ask` (except `history`); the ones given to
    `Workspace.chat` apply to every turn. Cheap to create: the turns live in the store."""

    def __init__(self, workspace: Workspace, name: str, store: ConversationStore, **defaults: Any) -> None:
        for option in _OWN_OPTIONS:
            if option in defaults:
                raise UsageError(
                    f"A conversation keeps its own {option}.",
                    fix="drop history=; each turn sends the ones before it",
                )
        self.workspace = workspace
        self.name = check_name(name)
        self.agent = workspace.agent.agent_id
        self._store = store
        self._defaults = defaults

    def __repr__(self) -> str:
        return f"Conversation({self.name!r}, agent={self.agent!r}, turns={len(self.turns)})"

    # -- reading -------------------------------------------------------------------------------

    @property
    def turns(self) -> tuple[Turn, ...]:
        return self._store.load(self.agent, self.name).turns

    @property
    def history(self) -> list[dict[str, Any]]:
        """The messages the next turn sends before its prompt (user and assistant, alternating)."""
        return [message for turn in self.turns for message in turn.messages()]

    def usage(self) -> pd.DataFrame:
        """The ledger rows of this conversation's calls since it began (or was last reset),
        re-runs and failed calls included: what it cost."""
        state = self._store.load(self.agent, self.name)
        frame = self.workspace.ledger.dataframe(since=state.started_ms / 1000, agent=self.agent)
        return frame[frame["conversation"] == self.name]

    def reset(self) -> None:
        """Forget every turn: the next one starts a new conversation under the same name."""
        self._store.reset(self.agent, self.name)

    # -- sending -------------------------------------------------------------------------------

    def _prepare(
        self, prompt: Any, cell: str | None, options: dict[str, Any]
    ) -> tuple[dict[str, Any], _Pending]:
        for option in _OWN_OPTIONS:
            if option in options:
                raise UsageError(
                    f"A conversation keeps its own {option}.",
                    fix="drop history=; each turn sends the ones before it",
                )
        owner = Owner(cell, uuid.uuid4().hex, cell) if cell is not None else current_owner()
        state = self._store.load(self.agent, self.name)
        placement = place_turn(state.turns, owner)
        base = state.turns[: placement.index]
        history = [m for turn in base for m in turn.messages()]
        merged = {**self._defaults, **options}
        merged.setdefault("cache_last_turn", True)  # the next turn reads it back
        call = {**merged, "history": history, "conversation": self.name}
        return call, _Pending(prompt, owner, placement, base, state.version, time.time_ns() // 1_000_000)

    def _finish(self, reply: Reply, pending: _Pending) -> Reply:
        turn = Turn(
            number=pending.placement.index + 1,
            prompt=pending.prompt,
            reply=reply.text,
            time_ms=pending.sent_ms,
            model=reply.model,
            request_id=reply.request_id,
            cell=pending.owner.cell,
            run=pending.owner.run,
            label=pending.owner.label,
        )
        changed = self._store.put_turn(
            self.agent, self.name, turn, pending.base, expected_version=pending.version
        )
        note = ChatNote(self.name, turn.number, tuple(t.number for t in pending.placement.replaced), changed)
        return dataclasses.replace(reply, chat=note)

    def ask(self, prompt: Any, *, cell: str | None = None, **options: Any) -> Reply:
        """Send the next turn and wait for its reply. `cell` names the turn's owner (a turn from
        the same owner later replaces it); by default the running notebook cell."""
        call, pending = self._prepare(prompt, cell, options)
        return self._finish(self.workspace.ask(prompt, **call), pending)

    async def aask(self, prompt: Any, *, cell: str | None = None, **options: Any) -> Reply:
        call, pending = self._prepare(prompt, cell, options)
        return self._finish(await self.workspace.aask(prompt, **call), pending)

    def stream(self, prompt: Any, *, cell: str | None = None, **options: Any) -> ReplyStream:
        """The next turn's reply as it arrives; `.reply` at the end (the turn is kept then)."""
        from clawdbot_nb.api.streaming import ReplyStream

        call, pending = self._prepare(prompt, cell, options)
        inner = self.workspace.stream(prompt, **call)

        def start() -> Iterator[str]:
            yield from inner
            assert inner.reply is not None
            return self._finish(inner.reply, pending)

        return ReplyStream(start)

    def astream(self, prompt: Any, *, cell: str | None = None, **options: Any) -> AsyncReplyStream:
        from clawdbot_nb.api.streaming import AsyncReplyStream

        call, pending = self._prepare(prompt, cell, options)
        inner = self.workspace.astream(prompt, **call)

        def start(on_reply: Callable[[Reply], None]) -> AsyncIterator[str]:
            async def chunks() -> AsyncIterator[str]:
                async for chunk in inner:
                    yield chunk
                assert inner.reply is not None
                on_reply(self._finish(inner.reply, pending))

            return chunks()

        return AsyncReplyStream(start)

    # -- rendering -------------------------------------------------------------------------------

    def describe(self) -> list[str]:
        """One line per turn: number, cell, prompt and reply previews."""
        lines = []
        for turn in self.turns:
            where = f" ({turn.label})" if turn.label else ""
            lines.append(f"{turn.number}{where} you: {preview(turn.prompt, 70)}")
            lines.append(f"{' ' * len(str(turn.number))}{' ' * len(where)} claude: {preview(turn.reply, 70)}")
        return lines

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        turns = self.turns
        head = f'chat "{self.name}" (agent {self.agent}): {len(turns)} turn{"s" if len(turns) != 1 else ""}'
        printer.text("\n".join([head, *self.describe()]))

    def _repr_markdown_(self) -> str:
        from clawdbot_nb.rendering import markdown_text

        turns = self.turns
        head = f'**chat "{markdown_text(self.name)}"** — {len(turns)} turn{"s" if len(turns) != 1 else ""}'
        if not turns:
            return head
        body = "\n\n".join(
            f"**you**{' (' + t.label + ')' if t.label else ''}: {markdown_text(preview(t.prompt))}\n\n"
            f"**claude**: {markdown_text(preview(t.reply))}"
            for t in turns
        )
        return f"{head}\n\n<details>\n<summary>History</summary>\n\n{body}\n\n</details>"


@dataclass(frozen=True)
class _Pending:
    """A turn on its way: what the reply will be kept with."""

    prompt: Any
    owner: Owner
    placement: TurnPlacement
    base: tuple[Turn, ...]
    version: int
    sent_ms: int
