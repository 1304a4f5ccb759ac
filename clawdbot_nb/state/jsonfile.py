"""Reading and writing the gateway's JSON state files safely.

Reads accept JSON5 (the gateway's config format) and turn every failure into a `ParseError`
that names the file, the line and column, and the fix. Writes are atomic (temp file, fsync,
rename), 0600 in a 0700 dir, 2-space JSON plus a newline, optionally rotating `.bak` copies.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from clawdbot_nb.errors import ParseError

FILE_MODE = 0o600
DIR_MODE = 0o700

_JSON5_LOCATION = re.compile(r":(\d+) (.*) at column (\d+)", re.DOTALL)


def ensure_private_dir(path: Path) -> None:
    """Create `path` and any missing parents as 0700; existing dirs keep their mode."""
    missing: list[Path] = []
    current = path
    while not current.exists():
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


def file_version(path: Path) -> tuple[int, int, int] | None:
    """(mtime ns, size, inode): changes whenever the file is rewritten, in place or by rename.

    None when the file cannot be stat'ed. Used to re-parse a file only when it changed.
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def read_text(path: Path, *, what: str) -> str | None:
    """The file's text, or None when it does not exist. `what` names the file in errors."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError as error:
        raise ParseError(
            f"the {what} path is a directory, not a file",
            path=path,
            fix=f"remove or rename that directory so the {what} can be a file",
        ) from error
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


def parse_json5(text: str, *, path: Path, what: str) -> Any:
    """Parse JSON5 text; strict JSON is tried first because it is fast and most files are JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as strict_error:
        strict = strict_error
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
    except ValueError as error:
        match = _JSON5_LOCATION.search(str(error))
        if match:
            line, column = int(match.group(1)), int(match.group(3))
            detail = match.group(2).replace("\n", "\\n")
        else:
            line, detail, column = strict.lineno, strict.msg, strict.colno
        raise ParseError(
            f"the {what} is not valid JSON5 ({detail})",
            path=path,
            line=line,
            column=column,
            fix=f"correct the file at that line, or restore it from {path.name}.bak",
        ) from error


def read_json_object(path: Path, *, what: str) -> dict[str, Any] | None:
    """A JSON5 file whose top level must be an object; None when the file does not exist."""
    text = read_text(path, what=what)
    if text is None:
        return None
    data = parse_json5(text, path=path, what=what)
    if not isinstance(data, dict):
        raise ParseError(
            f"the {what} must hold a JSON object at the top level, found {type(data).__name__}",
            path=path,
            line=1,
            column=1,
            fix="wrap the content in { ... } or restore the file from a backup",
        )
    return data


def dumps(data: Any) -> str:
    """The gateway's serialisation: `JSON.stringify(data, null, 2) + "\\n"`."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform lets a dir be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text_atomic(path: Path, text: str, *, backups: int = 0) -> None:
    """Replace `path` with `text` so readers see the old or the new file, never a mix.

    The temp file `<name>.<pid>.<uuid>.tmp` is created 0600 in the same dir, fsynced, then
    renamed over the target. With `backups > 0` the previous version becomes `<name>.bak` and
    older ones shift to `.bak.1` ... `.bak.<backups-1>`.
    """
    ensure_private_dir(path.parent)
    if path.is_dir():
        raise ParseError(
            "expected a file but found a directory",
            path=path,
            fix="remove or rename that directory",
        )
    temp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    data = text.encode("utf-8")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if backups > 0 and path.exists():
            _rotate_backups(path, backups)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    os.chmod(path, FILE_MODE)
    _fsync_dir(path.parent)


def write_json_atomic(path: Path, data: Any, *, backups: int = 0) -> None:
    write_text_atomic(path, dumps(data), backups=backups)


def _rotate_backups(path: Path, count: int) -> None:
    slots = [path.with_name(f"{path.name}.bak")] + [
        path.with_name(f"{path.name}.bak.{n}") for n in range(1, count)
    ]
    for older, newer in zip(reversed(slots[1:]), reversed(slots[:-1])):
        if newer.exists():
            os.replace(newer, older)
    # Copy (not move) the current file so the target never disappears for a reader.
    temp = path.with_name(f"{path.name}.bak.{uuid.uuid4().hex}.tmp")
    shutil.copyfile(path, temp)
    os.chmod(temp, FILE_MODE)
    os.replace(temp, slots[0])


def keep_aside(path: Path) -> Path | None:
    """Copy a file we cannot parse next to it, once per content, before refusing to touch it.

    The copy survives even if another program later overwrites the original.
    """
    try:
        content = path.read_bytes()
    except OSError:
        return None
    for existing in path.parent.glob(f"{path.name}.unreadable-*"):
        with contextlib.suppress(OSError):
            if existing.read_bytes() == content:
                return existing
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.unreadable-{stamp}-{uuid.uuid4().hex[:6]}")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EROFS, errno.ENOSPC):
            return None
        raise
    return target
