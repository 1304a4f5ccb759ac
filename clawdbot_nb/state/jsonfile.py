"""Reading and writing the gateway's JSON state files safely, while a gateway writes them too.

Reads accept JSON5 (the gateway's config format), refuse anything that is not a regular file
and anything over `MAX_FILE_BYTES` (so a FIFO or a huge file can never hang a command), and
turn every failure into a `ParseError` that names the file, the line and column, and the fix.
The gateway rewrites its files in place (truncate, then write): a read that finds an empty
file, or a cut-off one that was modified a moment ago or changed while we read it, re-reads it
on a short backoff before calling it broken (`SETTLE_DELAYS_S`, see `load_json_object`).

Writes are atomic (temp file, fsync, rename), 0600 in a 0700 dir, 2-space JSON plus a newline,
optionally rotating `.bak` copies. A symlinked file is written through to its target. Temp
files that a dead writer of ours left behind are removed on the next write.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import random
import re
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from clawdbot_nb.errors import ParseError

FILE_MODE = 0o600
DIR_MODE = 0o700
#: State files are a few kilobytes; anything bigger than this is not one of them.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Deeper nesting than this is refused: the gateway's documents are a handful of levels deep.
MAX_DEPTH = 64
#: A gateway write usually takes well under a millisecond, but its truncating open() waits for
#: the disk (measured: over 100 ms dozens of times, over a second once, in one full-suite run),
#: and a writer can be preempted between its truncate and its write. A file that fails to parse
#: is re-read on these (jittered) delays, the last one repeating, until it parses or is known
#: to be at rest (`load_json_object`); never longer than `SETTLE_PATIENCE_S` in all.
SETTLE_DELAYS_S = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128)
AT_REST_S = 1.0
SETTLE_PATIENCE_S = 3.0
#: Our temp files are `<name>.<pid>.<32 hex>.tmp` (backups: `<name>.bak.<pid>.<32 hex>.tmp`).
_OUR_TEMP = re.compile(r"^(?P<base>.+?)(?:\.bak)?\.(?P<pid>\d+)\.[0-9a-f]{32}\.tmp$")
#: A temp file this old is abandoned even if its pid now belongs to a live process.
ABANDONED_TEMP_S = 3600.0
#: ... and one whose writer is dead is left alone for this long (a writer in another pid
#: namespace looks dead to us, but never keeps a temp file open this long).
DEAD_WRITER_GRACE_S = 1.0

_JSON5_LOCATION = re.compile(r":(\d+) (.*) at column (\d+)", re.DOTALL)
_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def ensure_private_dir(path: Path) -> None:
    """Create `path` and any missing parents as 0700; existing dirs keep their mode."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        if current.is_symlink():  # a dangling link: its target is what must be created
            current = Path(os.path.realpath(current))
            continue
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    if not current.is_dir():
        raise ParseError(
            "expected a directory but found a file",
            path=current,
            fix="move that file away so the directory can be created",
        )
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise ParseError(
                    "expected a directory but found a file",
                    path=directory,
                    fix="move that file away so the directory can be created",
                ) from None
        except PermissionError as error:
            raise ParseError(
                "cannot create this directory (permission denied)",
                path=directory,
                fix="check the owner and permissions of its parent directory",
            ) from error
        except OSError as error:
            raise ParseError(
                f"cannot create this directory ({error.strerror or error})",
                path=directory,
                fix="check the disk and the permissions of its parent directory",
            ) from error


def file_version(path: Path) -> tuple[int, int, int] | None:
    """(mtime ns, size, inode): changes whenever the file is rewritten, in place or by rename.

    None when the file cannot be stat'ed. Used to re-parse a file only when it changed.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _version_of(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _open_for_reading(path: Path) -> int:
    # O_NONBLOCK: opening a FIFO must not wait for a writer; the fstat below refuses it.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags)


def _not_regular(what: str, path: Path, kind: str) -> ParseError:
    return ParseError(
        f"the {what} path is {kind}, not a regular file",
        path=path,
        fix=f"remove it (rm {path}) so the {what} can be a regular file, or point the setting elsewhere",
    )


@dataclass(frozen=True)
class RawFile:
    """A file's bytes and the (mtime, size, inode) it had when we opened it. The bytes may
    hold secrets, so the repr shows only their size.

    `steady` is False when the file changed while we read it (its version after the read
    differs, or we got another number of bytes than its size): a write was under way, so the
    bytes may be a cut-off mix, whatever the mtime said. `read_at` is when we read it.
    """

    data: bytes = field(repr=False)
    version: tuple[int, int, int]
    mtime_s: float
    steady: bool = True
    read_at: float = field(default_factory=time.time)

    def __repr__(self) -> str:
        return f"RawFile({len(self.data)} bytes, version={self.version})"


def read_raw(path: Path, *, what: str) -> RawFile | None:
    """The bytes of a regular file (at most `MAX_FILE_BYTES`), or None when it does not exist."""
    try:
        fd = _open_for_reading(path)
    except FileNotFoundError:
        return None
    except PermissionError as error:
        raise ParseError(
            f"cannot read the {what} (permission denied)",
            path=path,
            fix=f"make it readable by you, e.g. chmod 600 {path}",
        ) from error
    except NotADirectoryError as error:
        raise ParseError(
            f"a parent of the {what} path is a file, not a directory",
            path=path,
            fix="check the state dir setting (CLAWDBOT_STATE_DIR) and the paths above it",
        ) from error
    except OSError as error:
        if error.errno == errno.ENXIO:  # a socket, or a device without a driver
            raise _not_regular(what, path, "a socket or a device") from error
        if error.errno == errno.ELOOP:
            raise ParseError(
                f"the {what} path is a loop of symbolic links",
                path=path,
                fix=f"remove the link {path} or point it at a real file",
            ) from error
        raise ParseError(
            f"cannot read the {what} ({error.strerror or error})",
            path=path,
            fix="check the file, its permissions and the disk",
        ) from error
    except ValueError as error:  # a NUL byte in the path
        raise ParseError(
            f"the {what} path is not a valid file name",
            path=repr(str(path)),
            fix="check the path settings (CLAWDBOT_STATE_DIR, CLAWDBOT_CONFIG_PATH)",
        ) from error
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ParseError(
                f"the {what} path is a directory, not a file",
                path=path,
                fix=f"remove or rename that directory so the {what} can be a file",
            )
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(what, path, _KINDS.get(stat.S_IFMT(info.st_mode), "not a file"))
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(what, path, info.st_size)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_FILE_BYTES:  # it grew while we read
                raise _too_large(what, path, total)
            chunks.append(chunk)
        after = os.fstat(fd)  # a write that began after the first fstat shows here
    except ParseError:
        raise
    except OSError as error:
        raise ParseError(
            f"cannot read the {what} ({error.strerror or error})",
            path=path,
            fix="check the file, its permissions and the disk",
        ) from error
    finally:
        os.close(fd)
    # The version is the one before the read: content cached under it is never newer than it.
    steady = _version_of(after) == _version_of(info) and total == after.st_size
    return RawFile(b"".join(chunks), _version_of(info), info.st_mtime, steady=steady)


def _too_large(what: str, path: Path, size: int) -> ParseError:
    return ParseError(
        f"the {what} is {size:,} bytes, too large to be one (the limit is {MAX_FILE_BYTES:,})",
        path=path,
        fix=f"move it away and restore the real {what} from a backup ({path.name}.bak)",
    )


def _decode(data: bytes, *, path: Path, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ParseError(
            f"the {what} is not UTF-8 text (byte 0x{data[error.start]:02x})",
            path=path,
            line=line,
            column=column,
            fix=f"save it as UTF-8, or restore it from a backup ({path.name}.bak)",
        ) from error


def read_text(path: Path, *, what: str) -> str | None:
    """The file's text, or None when it does not exist. `what` names the file in errors."""
    raw = read_raw(path, what=what)
    return None if raw is None else _decode(raw.data, path=path, what=what)


def _too_deep(text: str, *, path: Path, what: str) -> ParseError:
    """Where nesting first goes past `MAX_DEPTH`, located as line and column."""
    depth, in_string, escaped = 0, False, False
    line, column = 1, 1
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                break
        elif char in "]}":
            depth -= 1
        if char == "\n":
            line, column = line + 1, 1
        else:
            column += 1
    return ParseError(
        f"the {what} is nested more than {MAX_DEPTH} levels deep; it cannot be a real {what}",
        path=path,
        line=line,
        column=column,
        fix=f"restore it from {path.name}.bak, or delete it to start over",
    )


def parse_json5(text: str, *, path: Path, what: str) -> Any:
    """Parse JSON5 text; strict JSON is tried first because it is fast and most files are JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as strict_error:
        strict = strict_error
    except RecursionError:
        raise _too_deep(text, path=path, what=what) from None
    if not text.strip():
        raise ParseError(
            f"the {what} is empty (perhaps a write was cut short)",
            path=path,
            line=1,
            column=1,
            fix=f"restore it from {path.name}.bak, or delete it to start over",
        )
    import json5  # the gateway's own format; pure Python, so only on the slow path

    try:
        return json5.loads(text)
    except RecursionError:
        raise _too_deep(text, path=path, what=what) from None
    except ValueError as error:
        match = _JSON5_LOCATION.search(str(error))
        if match:
            line, column = int(match.group(1)), int(match.group(3))
            detail = match.group(2).replace("\n", "\\n")
        else:
            line, detail, column = strict.lineno, strict.msg, strict.colno
        raise ParseError(
            f"the {what} is not valid JSON5 ({detail[:80]})",
            path=path,
            line=line,
            column=column,
            fix=f"correct the file at that line, or restore it from {path.name}.bak",
        ) from error


def field_name(parts: list[str | int]) -> str:
    """`usageStats["anthropic:default"].lastUsed`: a field path as it reads in the file."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text or "(top level)"


def _check_text(text: str, parts: list[str | int], *, path: Path, what: str) -> None:
    # A `\ud800` escape in JSON gives a lone surrogate: not a character, it cannot be written
    # back as UTF-8 nor shown. (The check is a fast encode; only a failure is looked into.)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        where = field_name(
            [p if isinstance(p, int) else p.encode("utf-8", "backslashreplace").decode() for p in parts]
        )
        raise ParseError(
            f"{what} field {where} holds a broken character (a lone \\u surrogate escape)",
            path=path,
            fix=f"correct or delete that text in {path.name}",
        ) from None


def check_structure(data: Any, *, path: Path, what: str, finite_numbers: bool) -> None:
    """Refuse nesting deeper than `MAX_DEPTH`, text that is not Unicode (a lone surrogate
    escape) and, with `finite_numbers`, NaN and Infinity (the gateway's JSON.parse reads
    neither, and JSON has no way to write them)."""
    stack: list[tuple[Any, list[str | int]]] = [(data, [])]
    while stack:
        node, parts = stack.pop()
        if len(parts) > MAX_DEPTH:
            raise ParseError(
                f"the {what} is nested more than {MAX_DEPTH} levels deep at {field_name(parts[:6])}…",
                path=path,
                fix=f"restore it from {path.name}.bak, or delete it to start over",
            )
        if isinstance(node, dict):
            for key in node:
                _check_text(key, [*parts, key], path=path, what=what)
            stack.extend((value, [*parts, key]) for key, value in node.items())
        elif isinstance(node, str):
            _check_text(node, parts, path=path, what=what)
        elif isinstance(node, list):
            stack.extend((value, [*parts, index]) for index, value in enumerate(node))
        elif finite_numbers and isinstance(node, float) and not math.isfinite(node):
            raise ParseError(
                f"{what} field {field_name(parts)} is {node!r}, not a finite number",
                path=path,
                fix=f"correct or delete {field_name(parts)} in {path.name}",
            )


@dataclass(frozen=True)
class JsonDocument:
    """A parsed JSON object file and what was read (for caching by content and version)."""

    data: dict[str, Any] = field(repr=False)
    raw: RawFile

    def __repr__(self) -> str:
        return f"JsonDocument(keys={sorted(self.data)[:8]!r}, raw={self.raw!r})"


def _parse_object(raw: RawFile, *, path: Path, what: str) -> dict[str, Any]:
    data = parse_json5(_decode(raw.data, path=path, what=what), path=path, what=what)
    if not isinstance(data, dict):
        raise ParseError(
            f"the {what} must hold a JSON object at the top level, found {type(data).__name__}",
            path=path,
            line=1,
            column=1,
            fix="wrap the content in { ... } or restore the file from a backup",
        )
    return data


class UnreadableFileError(ParseError):
    """A file whose content stays unparsable: `content` is what was read (to keep aside),
    `settled` whether it was at rest or held still across the re-reads (not a write in progress)."""

    content: bytes = b""
    settled: bool = True


def _at_rest(raw: RawFile) -> bool:
    """Whether a failed read shows a file nobody is writing, judged from this one read.

    Not when it changed while we read it. Never for an empty file: Linux makes a truncation
    visible before it stamps the new mtime, and the truncating open() can wait over a second for
    the disk, so every in-place rewrite reads for a while as empty with the previous write's mtime,
    however old. A cut-off non-empty file has a fresh mtime, as a write() stamps it first.
    """
    return raw.steady and raw.data != b"" and abs(raw.read_at - raw.mtime_s) > AT_REST_S


#: Empty files that held still for all of `SETTLE_PATIENCE_S`, by path: read again at the same
#: version, they are refused at once (each read of a broken store need not wait again).
_held_still_empty: dict[Path, tuple[int, int, int]] = {}


def load_json_object(
    path: Path,
    *,
    what: str,
    validate: Callable[[dict[str, Any]], None] | None = None,
) -> JsonDocument | None:
    """A JSON5 object file, re-read on a short backoff while it may be half-written.

    A read that fails is final at once only for a file at rest (`_at_rest`); otherwise the file
    is re-read until it parses or until `SETTLE_PATIENCE_S` is up. A file that changed since
    the last look is being written right now, so the backoff starts over: a writer that keeps
    rewriting it leaves complete content only between its writes, and a slow poll would miss
    it. The error then says whether the file had settled (at rest, or not changed at all while
    we watched it: a broken file, worth a copy) or was still being rewritten (a transient state,
    never kept).

    None when the file does not exist. `validate(data)` may raise `ParseError` for a document
    of the wrong shape; like a parse failure, that is final only once the file holds still.
    Errors about the file itself (a directory, a FIFO, permissions) are raised at once.
    """
    delays = iter(SETTLE_DELAYS_S)
    started = time.monotonic()
    first: RawFile | None = None
    last: RawFile | None = None
    while True:
        raw = read_raw(path, what=what)
        if raw is None:
            return None
        try:
            data = _parse_object(raw, path=path, what=what)
            if validate is not None:
                validate(data)
            return JsonDocument(data, raw)
        except ParseError as error:
            failure = error
        if first is None:
            first = raw
        changed = last is not None and (raw.data, raw.version) != (last.data, last.version)
        if changed or not raw.steady:  # being written right now: look again soon
            delays = iter(SETTLE_DELAYS_S)
        last = raw
        held_still = raw.steady and (raw.data, raw.version) == (first.data, first.version)
        known_empty = raw.data == b"" and held_still and _held_still_empty.get(path) == raw.version
        at_rest = _at_rest(raw) or known_empty
        if at_rest or time.monotonic() - started > SETTLE_PATIENCE_S:
            if raw.data == b"" and held_still:
                _held_still_empty[path] = raw.version
            unreadable = UnreadableFileError(
                failure.message, fix=failure.fix, path=failure.path, line=failure.line, column=failure.column
            )
            unreadable.content = raw.data
            unreadable.settled = at_rest or held_still
            raise unreadable from failure
        time.sleep(next(delays, SETTLE_DELAYS_S[-1]) * random.uniform(0.5, 1.5))


def read_json_object(path: Path, *, what: str) -> dict[str, Any] | None:
    """A JSON5 file whose top level must be an object; None when the file does not exist."""
    document = load_json_object(path, what=what)
    return None if document is None else document.data


T = TypeVar("T")


@dataclass(repr=False)
class _CacheEntry(Generic[T]):
    raw: RawFile
    value: T
    #: Modified so shortly before it was read that a later rewrite in the same timestamp tick
    #: would not change the version: compare contents before trusting the version.
    racy: bool


class ParsedFileCache(Generic[T]):
    """Values built from a file, rebuilt only when the file changed.

    The (mtime, size, inode) version is trusted only for files read well after their last
    change; otherwise the bytes are compared too (a gateway rewriting in place within one
    timestamp tick keeps mtime and often size).
    """

    def __init__(self) -> None:
        self._entries: dict[Path, _CacheEntry[T]] = {}

    def get(self, path: Path) -> T | None:
        version = file_version(path)
        entry = self._entries.get(path)
        if version is None or entry is None or entry.raw.version != version:
            return None
        if entry.racy:
            try:
                now = read_raw(path, what="file")
            except ParseError:
                return None
            if now is None or now.data != entry.raw.data:
                return None
            entry.racy = time.time() - now.mtime_s < AT_REST_S
        return entry.value

    def put(self, path: Path, raw: RawFile, value: T) -> None:
        self._entries[path] = _CacheEntry(raw, value, racy=time.time() - raw.mtime_s < AT_REST_S)

    def clear(self) -> None:
        self._entries.clear()


def dumps(data: Any, *, finite_numbers: bool = False) -> str:
    """The gateway's serialisation: `JSON.stringify(data, null, 2) + "\\n"`."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=not finite_numbers) + "\n"


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform lets a dir be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_target(path: Path, *, what: str = "state file") -> Path:
    """Where a write to `path` lands: a symlink is followed to its target, so the real file
    keeps receiving updates; anything but a regular file (or a missing one) is refused."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ParseError(
                f"the {what} path is a loop of symbolic links",
                path=path,
                fix=f"remove the link {path} or point it at a real file",
            ) from error
        return target
    if stat.S_ISDIR(info.st_mode):
        raise ParseError(
            "expected a file but found a directory",
            path=target,
            fix="remove or rename that directory",
        )
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(what, target, _KINDS.get(stat.S_IFMT(info.st_mode), "not a file"))
    return target


def temp_path_for(target: Path, *, backup: bool = False) -> Path:
    """`<name>.<pid>.<hex>.tmp` next to `target` (recognised later as ours by that shape)."""
    middle = ".bak" if backup else ""
    return target.with_name(f"{target.name}{middle}.{os.getpid()}.{uuid.uuid4().hex}.tmp")


def write_new_file(path: Path, data: bytes) -> None:
    """Create `path` 0600 (from the start, never chmod-ed later) holding `data`, fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str, *, backups: int = 0, what: str = "state file") -> None:
    """Replace `path` with `text` so readers see the old or the new file, never a mix.

    The temp file `<name>.<pid>.<uuid>.tmp` is created 0600 in the same dir, fsynced, then
    renamed over the target (a symlink's target). With `backups > 0` the previous version
    becomes `<name>.bak` and older ones shift to `.bak.1` ... `.bak.<backups-1>`. Temp files
    that dead writers of ours left next to it are removed afterwards.
    """
    target = write_target(path, what=what)
    ensure_private_dir(target.parent)
    temp = temp_path_for(target)
    try:
        write_new_file(temp, text.encode("utf-8"))
        if backups > 0 and target.exists():
            _rotate_backups(target, backups)
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(error, OSError) and not isinstance(error, ParseError):
            raise ParseError(
                f"cannot write the {what} ({error.strerror or error}); it was left as it was",
                path=target,
                fix="check the free disk space and the permissions of its directory",
            ) from error
        raise
    _fsync_dir(target.parent)
    remove_stale_temp_files(target)


def write_json_atomic(path: Path, data: Any, *, backups: int = 0, finite_numbers: bool = False) -> None:
    write_text_atomic(path, dumps(data, finite_numbers=finite_numbers), backups=backups)


def _rotate_backups(path: Path, count: int) -> None:
    slots = [path.with_name(f"{path.name}.bak")] + [
        path.with_name(f"{path.name}.bak.{n}") for n in range(1, count)
    ]
    current = read_raw(path, what="file being backed up")
    for older, newer in zip(reversed(slots[1:]), reversed(slots[:-1])):
        if newer.exists():
            os.replace(newer, older)
    if current is None:
        return
    # Copy (not move) the current file so the target never disappears for a reader; the copy
    # is created 0600, so a secret in it is never readable by others, even for a moment.
    temp = temp_path_for(path, backup=True)
    try:
        write_new_file(temp, current.data)
        os.replace(temp, slots[0])
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or an odd pid): not ours to judge
    return True


def remove_stale_temp_files(target: Path) -> list[Path]:
    """Remove `<target>.<pid>.<hex>.tmp` files whose writer is gone; returns what was removed.

    Only our naming shape is touched, never a file a live writer may still be renaming: the
    pid must be dead (and the file a second old), or the file an hour old.
    """
    removed: list[Path] = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        match = _OUR_TEMP.match(name)
        if not match or match.group("base") != target.name:
            continue
        candidate = target.parent / name
        try:
            info = os.lstat(candidate)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        age = now - info.st_mtime
        dead = not _process_alive(int(match.group("pid")))
        if (dead and age > DEAD_WRITER_GRACE_S) or age > ABANDONED_TEMP_S:
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def keep_aside(path: Path, content: bytes | None = None) -> Path | None:
    """Copy a file we cannot parse next to it, once per content, before refusing to touch it.

    `content` is what the failed read saw (default: read it now). The copy survives even if
    another program later overwrites the original.
    """
    if content is None:
        try:
            raw = read_raw(path, what="file")
        except ParseError:
            return None
        if raw is None:
            return None
        content = raw.data
    for existing in path.parent.glob(f"{path.name}.unreadable-*"):
        with contextlib.suppress(OSError, ParseError):
            kept = read_raw(existing, what="copy")
            if kept is not None and kept.data == content:
                return existing
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.unreadable-{stamp}-{uuid.uuid4().hex[:6]}")
    try:
        write_new_file(target, content)
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EPERM):
            return None
        raise
    return target
