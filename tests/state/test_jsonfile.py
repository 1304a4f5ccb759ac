from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clawdbot_nb.errors import ParseError
from clawdbot_nb.state import jsonfile
from clawdbot_nb.state.jsonfile import (
    ensure_private_dir,
    read_json_object,
    write_json_atomic,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_is_two_space_json_with_newline_0600_in_0700_dirs(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.json"
    write_json_atomic(target, {"version": 1, "profiles": {"x": {"k": "ü"}}})
    assert target.read_text(encoding="utf-8") == (
        '{\n  "version": 1,\n  "profiles": {\n    "x": {\n      "k": "ü"\n    }\n  }\n}\n'
    )
    assert mode(target) == 0o600
    assert mode(tmp_path / "a") == 0o700 and mode(tmp_path / "a" / "b") == 0o700
    assert not list(target.parent.glob("*.tmp"))


def test_backups_rotate_and_keep_five(tmp_path: Path) -> None:
    target = tmp_path / "clawdbot.json"
    for n in range(8):
        write_json_atomic(target, {"n": n}, backups=5)
    assert read_json_object(target, what="config") == {"n": 7}
    assert json.loads((tmp_path / "clawdbot.json.bak").read_text()) == {"n": 6}
    assert [json.loads((tmp_path / f"clawdbot.json.bak.{i}").read_text())["n"] for i in range(1, 5)] == [
        5,
        4,
        3,
        2,
    ]
    assert not (tmp_path / "clawdbot.json.bak.5").exists()
    assert mode(tmp_path / "clawdbot.json.bak") == 0o600


def test_json5_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("// comment\n{\n  unquoted: 'single',\n  trailing: [1, 2,],\n}\n")
    assert read_json_object(path, what="config") == {"unquoted": "single", "trailing": [1, 2]}


def test_json5_error_names_file_line_column_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "clawdbot.json"
    path.write_text('{\n  "auth": {\n    "profiles": { "a": 1 \n  }\n')
    with pytest.raises(ParseError) as info:
        read_json_object(path, what="config")
    error = info.value
    assert error.path == str(path)
    assert error.line is not None and error.column is not None
    text = str(error)
    assert text.startswith(f"{path}:{error.line}:{error.column}: the config is not valid JSON5")
    assert "Fix:" in text and "clawdbot.json.bak" in text


def test_json5_error_location_is_the_offending_token(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{\n  a: 1,\n  b: tru\n}")
    with pytest.raises(ParseError) as info:
        read_json_object(path, what="config")
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b'{"version": 1, "prof', "not valid JSON5"),
        (b"[1, 2]", "must hold a JSON object"),
        (b'{"key": "\xff\xfe"}', "not UTF-8"),
    ],
)
def test_bad_files_give_a_located_error(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "auth-profiles.json"
    path.write_bytes(content)
    with pytest.raises(ParseError) as info:
        read_json_object(path, what="auth profile store")
    assert expected in str(info.value)
    assert info.value.line is not None
    assert path.read_bytes() == content  # reading never changes the file


def test_non_utf8_error_points_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(b'{\n  "a": "ok",\n  "b": "\xc3\x28"\n}')
    with pytest.raises(ParseError) as info:
        read_json_object(path, what="config")
    assert (info.value.line, info.value.column) == (3, 9)


def test_directory_where_a_file_should_be(tmp_path: Path) -> None:
    path = tmp_path / "clawdbot.json"
    path.mkdir()
    with pytest.raises(ParseError, match="is a directory"):
        read_json_object(path, what="config")
    with pytest.raises(ParseError, match="found a directory"):
        write_json_atomic(path, {})


def test_file_where_a_directory_should_be(tmp_path: Path) -> None:
    (tmp_path / "agents").write_text("oops")
    with pytest.raises(ParseError, match="found a file"):
        ensure_private_dir(tmp_path / "agents" / "main")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.json"
    path.write_text("{}")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the read fail the way it does for a user

        def denied(path: Path) -> int:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(jsonfile, "_open_for_reading", denied)
    with pytest.raises(ParseError, match="permission denied"):
        read_json_object(path, what="config")


def test_a_writer_killed_mid_write_leaves_the_old_file_parseable(tmp_path: Path) -> None:
    target = tmp_path / "auth-profiles.json"
    write_json_atomic(target, {"version": 1, "profiles": {"keep": {"type": "api_key"}}})
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        import clawdbot_nb.state.jsonfile as jf
        real_write = os.write
        def slow_write(fd, data):
            # Write a little, tell the parent, then hang: the parent kills us mid-write.
            real_write(fd, bytes(data[:10]))
            print("writing", flush=True)
            import time; time.sleep(60)
        jf.os.write = slow_write
        jf.write_json_atomic(Path({str(target)!r}), {{"version": 1, "profiles": {{"x" * 1000: 1}}}})
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert read_json_object(target, what="store") == {"version": 1, "profiles": {"keep": {"type": "api_key"}}}
    leftovers = list(tmp_path.glob("*.tmp"))
    assert leftovers, "the killed writer's temp file stays behind, the target is untouched"
    time.sleep(0)  # nothing else to wait for; the target was never replaced


def test_a_fifo_at_a_state_path_is_refused_without_hanging(tmp_path: Path) -> None:
    path = tmp_path / "auth-profiles.json"
    os.mkfifo(path)
    with pytest.raises(ParseError, match="is a FIFO"):
        read_json_object(path, what="auth profile store")
    with pytest.raises(ParseError, match="is a FIFO"):
        write_json_atomic(path, {"version": 1})
    assert stat.S_ISFIFO(os.lstat(path).st_mode)  # left as it was


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonfile, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "clawdbot.json"
    path.write_text(json.dumps({"pad": "x" * 2000}))
    with pytest.raises(ParseError, match="too large"):
        read_json_object(path, what="config")


def test_a_symlinked_file_is_written_through_to_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real" / "clawdbot.json"
    write_json_atomic(real, {"n": 0})
    link = tmp_path / "clawdbot.json"
    link.symlink_to(real)
    write_json_atomic(link, {"n": 1}, backups=5)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text()) == {"n": 1}
    assert json.loads((real.parent / "clawdbot.json.bak").read_text()) == {"n": 0}


def test_backups_are_created_0600_never_chmod_ed_later(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "clawdbot.json"
    write_json_atomic(target, {"n": 0})
    seen_modes = []
    real_replace = os.replace

    def replace(source, destination):
        seen_modes.append((Path(destination).name, mode(Path(source))))
        return real_replace(source, destination)

    monkeypatch.setattr(os, "chmod", lambda *a, **k: pytest.fail("a mode was fixed after creation"))
    monkeypatch.setattr(os, "replace", replace)
    previous = os.umask(0o022)
    try:
        write_json_atomic(target, {"n": 1}, backups=5)
    finally:
        os.umask(previous)
    assert ("clawdbot.json.bak", 0o600) in seen_modes and ("clawdbot.json", 0o600) in seen_modes


def test_stale_temp_files_of_dead_writers_are_removed_on_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "auth-profiles.json"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    hexes = iter(f"{n:032x}" for n in range(10))
    leftover = tmp_path / f"auth-profiles.json.{dead_pid}.{next(hexes)}.tmp"
    leftover_backup = tmp_path / f"auth-profiles.json.bak.{dead_pid}.{next(hexes)}.tmp"
    live = tmp_path / f"auth-profiles.json.{os.getppid()}.{next(hexes)}.tmp"  # a live writer's
    just_now = tmp_path / f"auth-profiles.json.{dead_pid}.{next(hexes)}.tmp"  # may be another namespace's
    foreign = tmp_path / "auth-profiles.json.12345.not-ours.tmp"  # not our naming: never touched
    other = tmp_path / f"clawdbot.json.{dead_pid}.{next(hexes)}.tmp"  # another file's
    for path in (leftover, leftover_backup, live, just_now, foreign, other):
        path.write_text("{}")
    old = time.time() - 10
    for path in (leftover, leftover_backup, live, foreign, other):
        os.utime(path, (old, old))
    write_json_atomic(target, {"version": 1})
    assert not leftover.exists() and not leftover_backup.exists()
    assert live.exists() and just_now.exists() and foreign.exists() and other.exists()


def test_temp_files_of_killed_writers_are_cleaned_on_the_next_write(tmp_path: Path) -> None:
    """SIGKILLed writers each leave a temp file (a full copy of a store holds its secrets); the
    next write removes them all, and nothing a live writer is using."""
    target = tmp_path / "auth-profiles.json"
    write_json_atomic(target, {"version": 1, "profiles": {}})
    hang_in_write = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        import clawdbot_nb.state.jsonfile as jf
        real_write = os.write
        def slow_write(fd, data):
            real_write(fd, bytes(data))  # the whole copy is on disk, the rename never comes
            print("writing", flush=True)
            time.sleep(60)
        jf.os.write = slow_write
        jf.write_json_atomic(Path({str(target)!r}), {{"version": 1, "profiles": {{"secret": "x" * 100}}}})
        """
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", hang_in_write], stdout=subprocess.PIPE, text=True)
        for _ in range(12)
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    live_writer = writers.pop()  # this one stays alive: its temp file must survive
    for writer in writers:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()
    try:
        assert len(list(tmp_path.glob("auth-profiles.json.*.tmp"))) == 12
        time.sleep(jsonfile.DEAD_WRITER_GRACE_S + 0.2)
        write_json_atomic(target, {"version": 1, "profiles": {"after": 1}})
        left = list(tmp_path.glob("auth-profiles.json.*.tmp"))
        assert [p.name.split(".")[2] for p in left] == [str(live_writer.pid)]
        assert read_json_object(target, what="store") == {"version": 1, "profiles": {"after": 1}}
    finally:
        live_writer.kill()
        live_writer.wait()
        assert live_writer.stdout is not None
        live_writer.stdout.close()
