"""A careless user, automated: every state file broken every which way, every argument odd.

Each example builds a private world (HOME, state dir, Claude Code dir), puts one broken
state file (or odd argument) in it, runs one `clawdbot-nb` command in-process and checks:
no traceback and no "internal error" (exit 0, 1 with one clear line, or argparse's 2), no
secret echoed in full, and, when the command failed, no file changed or lost (an
`.unreadable-*` copy of a broken store may appear; nothing else).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawdbot_nb import cli
from clawdbot_nb.state import claude_cli, jsonfile
from clawdbot_nb.state.redaction import full_secrets
from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN

pytestmark = pytest.mark.slow

FILE_EXAMPLES = 700
ARGUMENT_EXAMPLES = 500

FILES = {
    "store": "state/agents/main/agent/auth-profiles.json",
    "research store": "state/agents/research/agent/auth-profiles.json",
    "config": "state/clawdbot.json",
    "dotenv": "state/.env",
    "claude login": "home/.claude/.credentials.json",
    "legacy auth": "state/agents/main/agent/auth.json",
    "legacy oauth": "state/credentials/oauth.json",
    "store lock": "state/agents/main/agent/auth-profiles.json.lock",
}
NOW = int(time.time() * 1000)
VALID = {
    "store": {
        "version": 1,
        "profiles": {
            "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": API_KEY},
            "anthropic:manual": {"type": "token", "provider": "anthropic", "token": SETUP_TOKEN, "expires": NOW + 9e7},
            "anthropic:claude-cli": {"type": "oauth", "provider": "anthropic", "access": OAUTH_ACCESS,
                                     "refresh": OAUTH_REFRESH, "expires": NOW + 9e7},
        },
        "order": {"anthropic": ["anthropic:manual", "anthropic:default"]},
        "lastGood": {"anthropic": "anthropic:manual"},
        "usageStats": {"anthropic:default": {"lastUsed": NOW, "errorCount": 1, "failureCounts": {"rate_limit": 1},
                                             "lastFailureAt": NOW, "cooldownUntil": NOW + 60_000}},
    },
    "config": {
        "auth": {"profiles": {"anthropic:default": {"provider": "anthropic", "mode": "api_key"}},
                 "order": {"anthropic": ["anthropic:default"]},
                 "cooldowns": {"billingBackoffHours": 5, "billingBackoffHoursByProvider": {"anthropic": 2},
                               "billingMaxHours": 24, "failureWindowHours": 24}},
        "agents": {"defaults": {"model": {"primary": "anthropic/claude-sonnet-4-5", "fallbacks": []},
                                "models": {"anthropic/claude-sonnet-4-5": {"alias": "s", "params": {"cacheControlTtl": "1h"}}}},
                   "list": [{"id": "main", "default": True}]},
        "env": {"vars": {"X": "y"}},
    },
    "claude login": {"claudeAiOauth": {"accessToken": OAUTH_ACCESS, "refreshToken": OAUTH_REFRESH,
                                       "expiresAt": NOW + 9e7, "scopes": ["user:inference"]}},
    "legacy auth": {"anthropic": {"type": "api_key", "key": API_KEY}},
    "legacy oauth": {"anthropic": {"access": OAUTH_ACCESS, "refresh": OAUTH_REFRESH, "expires": NOW + 9e7}},
}  # fmt: skip

COMMANDS = [
    ["models", "status"],
    ["models", "status", "--json", "--check"],
    ["models", "status", "--plain", "--agent", "research"],
    ["models", "auth", "order", "get", "--provider", "anthropic", "--json"],
    ["models", "auth", "order", "set", "--provider", "anthropic", "anthropic:default"],
    ["models", "auth", "order", "clear", "--provider", "anthropic"],
    ["onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY],
    ["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic", "--token",
     SETUP_TOKEN, "--token-profile-id", "anthropic:work", "--token-expires-in", "30d"],
    ["onboard", "--non-interactive", "--auth-choice", "claude-cli"],
    ["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "2d"],
]  # fmt: skip

# -- content strategies ----------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "\x00", "\ud800", "é", "anthropic", "Anthropic:Default", "a" * 300, "../..", "-",
                     "Infinity", "NaN", "1e400", "-1", "0", API_KEY, SETUP_TOKEN]),
)  # fmt: skip
odd_number = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 10**18, 10**400, 1.5, 1e308]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), odd_number, odd_text),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(odd_text, children, max_size=4)
    ),
    max_leaves=12,
)


def _dump(value: object) -> str:
    # JSON as a hand edit may leave it: NaN/Infinity written out, huge ints as digits.
    return json.dumps(value, allow_nan=True, ensure_ascii=False, indent=1)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_document(draw, kind: str) -> str:
    """A valid document of `kind` with one field replaced by something odd (or removed)."""
    document = json.loads(json.dumps(VALID[kind]))
    paths = [p for p in _paths(document) if p]
    path = draw(st.sampled_from(paths))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return _dump(document)


def deep(depth: int) -> str:
    return '{"version": 1, "profiles": ' + "[" * depth + "]" * depth + "}"


special_contents = st.sampled_from([
    b"", b"   \n", b"{", b'{"version": 1, "prof', b"[1, 2]", b"null", b'"text"', b"\xff\xfe\x00",
    b'{"a": "\xc3\x28"}', b"// only a comment\n", b"{version: 1, profiles: {},}", deep(5000).encode(),
    deep(70).encode(), b'{"version": 1, "profiles": {}, "usageStats": {"x": {"lastUsed": Infinity}}}',
    b'{"version": 1e400, "profiles": {}}', b'{"version": 2, "profiles": {}}',
    b'{"claudeAiOauth": {"accessToken": "sk-ant-oat01-x", "expiresAt": NaN}}',
    b'{"auth": {"cooldowns": {"billingBackoffHours": Infinity}}}',
    b'{"auth": {"cooldowns": {"billingBackoffHoursByProvider": {"anthropic": NaN}}}}',
    b'{"auth": {"profiles": {"anthropic:default": {"provider": "anthropic", "mode": "webauthn"}}}}',
    b'{"auth": {"order": {"anthropic": "not a list"}}}', b'{"agents": {"list": "x"}}',
    b'{"agents": {"defaults": {"model": 5}}}', b'{"version": 1, "profiles": {"\\ud800": {"type": "api_key", "provider": "anthropic", "key": "k"}}}',
    b'{"version": 1, "profiles": {"anthropic:x": {"type": "token", "provider": "anthropic", "token": "t", "expires": 1e300}}}',
    b"ANTHROPIC_API_KEY=" + API_KEY.encode() + b"\nexport =broken\n\xff\n",
])  # fmt: skip


@st.composite
def broken_file(draw) -> tuple[str, str, object]:
    """(which file, how: bytes | text | fifo | dir | loop | dangling, content)."""
    kind = draw(st.sampled_from(sorted(FILES)))
    how = draw(
        st.sampled_from(["bytes", "special", "json", "mutated", "mutated", "fifo", "dir", "loop", "dangling"])
    )
    if how == "bytes":
        return kind, "bytes", draw(st.binary(max_size=200))
    if how == "special":
        return kind, "bytes", draw(special_contents)
    if how == "json":
        return kind, "bytes", _dump(draw(json_values)).encode("utf-8", "surrogatepass")
    if how == "mutated":
        base = kind if kind in VALID else ("store" if "store" in kind else "config")
        return kind, "bytes", draw(mutated_document(base)).encode("utf-8", "surrogatepass")
    return kind, how, None


# -- the world of one example ----------------------------------------------------------------------


@contextlib.contextmanager
def world():
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    home, state = root / "home", root / "state"
    home.mkdir()
    saved = {name: os.environ.get(name) for name in ("HOME", "CLAWDBOT_STATE_DIR", "CLAUDE_CONFIG_DIR")}
    os.environ.update(HOME=str(home), CLAWDBOT_STATE_DIR=str(state), CLAUDE_CONFIG_DIR=str(home / ".claude"))
    claude_cli.clear_read_cache()
    try:
        yield root
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        claude_cli.clear_read_cache()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def seed(root: Path) -> None:
    """A healthy world to break: a store, a config, a Claude Code login."""
    for kind in ("store", "config", "claude login"):
        path = root / FILES[kind]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(VALID[kind], indent=2))


def place(root: Path, kind: str, how: str, content: object) -> None:
    path = root / FILES[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        os.rmdir(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    if how == "bytes":
        path.write_bytes(content)  # type: ignore[arg-type]
    elif how == "fifo":
        os.mkfifo(path)
    elif how == "dir":
        path.mkdir()
    elif how == "loop":
        path.symlink_to(path.name)
    elif how == "dangling":
        path.symlink_to(root / "nowhere" / "file.json")
    at_rest = time.time() - 60  # a broken file at rest, not one a writer is busy with
    for item in path.parent.iterdir():
        with contextlib.suppress(OSError):
            os.utime(item, (at_rest, at_rest), follow_symlinks=False)


def snapshot(root: Path) -> dict[str, object]:
    files: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            relative = str(path.relative_to(root))
            if ".unreadable-" in name or name.endswith(".lock-holder"):
                continue
            if path.is_symlink():
                files[relative] = ("link", os.readlink(path))
            elif path.is_file():
                files[relative] = path.read_bytes()
            elif path.is_dir():
                continue  # a directory made on the way is harmless; its files are compared
            else:
                files[relative] = "special"
    return files


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def no_hang(seconds: int = 90):
    def stop(signum, frame):
        raise AssertionError(f"the command hung for {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


NOTICES = ("clawdbot-nb: waiting for ", "clawdbot-nb: removed a stale lock ")


def run_and_check(root: Path, argv: list[str], stdin: str = SETUP_TOKEN + "\n") -> int:
    before = snapshot(root)
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = _Stdin(stdin), out, err
    try:
        with no_hang():
            try:
                code = cli.main(argv)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    output, errors = out.getvalue(), err.getvalue()
    assert "Traceback" not in errors and "internal error" not in errors, (argv, errors)
    assert code in (0, 1, 2), (argv, code, errors)
    # With --check, 1 and 2 are verdicts, not failures: a failure is an error line (or argparse's).
    # Notices (a lock waited for, a stale one removed) may come first; the error is the last line.
    lines = [line for line in errors.splitlines() if not line.startswith(NOTICES)]
    failed = code == 2 or any(": error: " in line for line in lines)
    if failed and code == 1:
        assert len(lines) == 1 and lines[0].startswith("clawdbot-nb: error: ") and "Fix:" in lines[0], errors
    elif code == 1:
        assert "--check" in argv and lines == [], (argv, errors)
    assert full_secrets(output + errors) == [], (argv, output, errors)
    if failed:
        after = snapshot(root)
        assert after == before, (argv, errors, set(before) ^ set(after))
    return 1 if failed else 0


# -- the tests ---------------------------------------------------------------------------------------


def test_every_broken_state_file_gives_one_clear_line_and_changes_nothing(
    record_property, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty file is refused only once it has held still for SETTLE_PATIENCE_S (it may be a
    # truncate in progress; tests/state/test_live_gateway.py times that). Here what matters is
    # what the refusal says and that nothing changed, so the examples do not wait it out in full.
    monkeypatch.setattr(jsonfile, "SETTLE_PATIENCE_S", 0.2)
    examples = {"run": 0, "failed commands": 0}

    @settings(
        max_examples=FILE_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(broken=broken_file(), command=st.sampled_from(COMMANDS))
    def one(broken, command) -> None:
        kind, how, content = broken
        with world() as root:
            seed(root)
            place(root, kind, how, content)
            if run_and_check(root, list(command)) != 0:
                examples["failed commands"] += 1
        examples["run"] += 1

    one()
    record_property("fuzz_examples", examples["run"])
    record_property("fuzz_failed_commands", examples["failed commands"])
    assert examples["run"] >= FILE_EXAMPLES


SLOTS = [
    (["models", "status", "--agent", "{}"], None),
    (["models", "status", "--probe", "--probe-provider", "{}", "--json"], None),
    (["models", "status", "--probe", "--probe-timeout", "{}", "--plain"], None),
    (["models", "auth", "order", "get", "--provider", "{}"], None),
    (["models", "auth", "order", "set", "--provider", "anthropic", "{}"], None),
    (["models", "auth", "order", "set", "--provider", "{}", "anthropic:default"], None),
    (["models", "auth", "order", "clear", "--provider", "{}", "--agent", "main"], None),
    (["onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", "{}"], None),
    (["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "{}", "--token", SETUP_TOKEN], None),
    (["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic", "--token", "{}"], None),
    (["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic", "--token",
      SETUP_TOKEN, "--token-profile-id", "{}"], None),
    (["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic", "--token",
      SETUP_TOKEN, "--token-expires-in", "{}"], None),
    (["onboard", "--non-interactive", "--auth-choice", "{}"], None),
    (["models", "auth", "paste-token", "--provider", "{}"], SETUP_TOKEN),
    (["models", "auth", "paste-token", "--provider", "anthropic", "--profile-id", "{}"], SETUP_TOKEN),
    (["models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "{}"], SETUP_TOKEN),
    (["models", "auth", "paste-token", "--provider", "anthropic"], "{}"),
    (["models", "auth", "setup-token", "--provider", "anthropic", "--profile-id", "{}"], SETUP_TOKEN),
]  # fmt: skip
odd_argument = st.one_of(
    odd_text,
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    st.sampled_from(["sk-ant-api03-" + "x" * 50, "Bearer abcdefghijklmnopqrstu", "x" * 10_000, "--json",
                     "365d", "99999999999999999999d", "1.5h", "0d", "-5m", "anthropic:" + "w" * 200,
                     "  anthropic : x ", "openai", "z.ai", "anthropic:work", "default", "hello"]),
)  # fmt: skip


def test_every_odd_argument_gives_one_clear_line_and_changes_nothing(record_property) -> None:
    examples = {"run": 0, "failed commands": 0}

    @settings(
        max_examples=ARGUMENT_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(slot=st.sampled_from(SLOTS), value=odd_argument)
    def one(slot, value) -> None:
        template, stdin = slot
        if "\x00" in value and stdin != "{}":
            value = value.replace("\x00", "")  # a command line cannot hold a NUL byte
        argv = [value if part == "{}" else part for part in template]
        with world() as root:
            seed(root)
            if run_and_check(root, argv, stdin=value if stdin == "{}" else (stdin or "")) != 0:
                examples["failed commands"] += 1
        examples["run"] += 1

    one()
    record_property("fuzz_examples", examples["run"])
    record_property("fuzz_failed_commands", examples["failed commands"])
    assert examples["run"] >= ARGUMENT_EXAMPLES
