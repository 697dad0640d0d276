"""``slapkit logs``: a program's output, without knowing where supervisord
keeps it (``.slappart0_NAME.log`` in the partition, as under slapgrid)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slapkit.core.files import open_regular_file
from slapkit.core.partition_state import STATE_DIR, without_digest
from slapkit.runner.display import shown
from slapkit.runner.partition import DeployError
from slapkit.runner.supervisor import PARTITION_ID, WATCHDOG_MARK

BUILDOUT = "buildout"
_PREFIX = f".{PARTITION_ID}_"


def program_logs(partition: Path) -> dict[str, Path]:
    """Each program's log, by the program's name (its file's in etc/service
    or etc/run); of a hashed wrapper, the latest version's only (the logs of
    earlier versions stay in the partition, as slapgrid leaves them)."""
    try:
        names = sorted(os.listdir(partition))
    except OSError:
        names = []
    latest: dict[str, tuple[float, str, Path]] = {}
    for name in names:
        if not (name.startswith(_PREFIX) and name.endswith(".log")):
            continue
        program = name[len(_PREFIX) : -len(".log")]
        path = partition / name
        try:
            changed = os.lstat(path).st_mtime
        except OSError:
            continue
        base = without_digest(program)
        if base not in latest or changed > latest[base][0]:
            latest[base] = (changed, program, path)
    return {program: path for _, program, path in sorted(latest.values(), key=lambda v: v[1])}


def chosen_logs(partition: Path, program: str | None) -> dict[str, Path]:
    """The logs ``program`` names (every program's when None): ``buildout``
    is buildout's own output (a program of that name is
    ``slappart0_buildout``); else a program's name, with or without its
    digest, ``slappart0_`` and ``-on-watch``."""
    logs = program_logs(partition)
    if program is None:
        return logs
    if program == BUILDOUT:
        return {BUILDOUT: partition / STATE_DIR / "buildout.log"}
    wanted = program.removeprefix(f"{PARTITION_ID}_").removesuffix(WATCHDOG_MARK)
    found = {
        name: path
        for name, path in logs.items()
        if name == wanted or without_digest(name) == without_digest(wanted)
    }
    if not found:
        known = ", ".join([BUILDOUT, *sorted(logs)])
        raise DeployError(f"no log of a program {program!r} in {partition} (known: {known})")
    return found


_BLOCK = 64 * 1024
# However long its lines, no more than this is read from the end of a log.
_TAIL_MAX_BYTES = 16 * 1024 * 1024


def tail(path: Path, lines: int) -> tuple[list[str], int]:
    """The last ``lines`` lines of the log and the offset its end is at;
    nothing when it is missing or not a regular file (never a FIFO, never
    through a symlink). Read from its end, block by block: a log of
    gigabytes costs what its last lines cost."""
    fd = open_regular_file(str(path))
    if fd is None:
        return [], 0
    with os.fdopen(fd, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        start, data = size, b""
        while start > 0 and data.count(b"\n") <= lines and size - start < _TAIL_MAX_BYTES:
            step = min(_BLOCK, start)
            start -= step
            stream.seek(start)
            data = stream.read(step) + data
    text = data.decode("utf-8", errors="replace").splitlines()
    if start > 0 and text:
        text = text[1:]  # the first one is cut
    return (text[-lines:] if lines > 0 else []), size


def follow(
    logs: dict[str, Path],
    offsets: dict[str, int],
    write: Callable[[str], None],
    poll: float = 0.5,
) -> None:
    """Print what is appended to the logs until interrupted (Ctrl-C). A log
    rotated (another file now at its path) is read to its end, then the new
    one from its start; one cut short is read again from its start (as with
    ``tail -f``, one cut short and written past its old end between two
    polls looks appended to)."""
    streams: dict[str, Any] = {}
    partial = {name: b"" for name in logs}
    try:
        for name, path in logs.items():
            fd = open_regular_file(str(path))
            if fd is not None:
                streams[name] = os.fdopen(fd, "rb")
                streams[name].seek(offsets.get(name, 0))
        while True:
            for name, path in logs.items():
                stream = streams.get(name)
                if stream is not None:
                    if os.fstat(stream.fileno()).st_size < stream.tell():
                        stream.seek(0)  # cut short: what is there now is new
                        partial[name] = b""
                    _write_lines(name, stream.read(), partial, write, len(logs) > 1)
                replaced = _replaced(stream, path)
                if replaced is not None:
                    if stream is not None:
                        # what was written between the read above and the rotation
                        _write_lines(name, stream.read(), partial, write, len(logs) > 1)
                        stream.close()
                    streams[name] = replaced
                    partial[name] = b""
                    _write_lines(name, replaced.read(), partial, write, len(logs) > 1)
            time.sleep(poll)
    finally:
        for stream in streams.values():
            stream.close()


def _replaced(stream: Any, path: Path) -> Any:
    """The file now at ``path`` when it is not ``stream``'s (a rotation),
    opened; else None."""
    try:
        now = os.lstat(path)
    except OSError:
        return None
    if stream is not None:
        was = os.fstat(stream.fileno())
        if (now.st_dev, now.st_ino) == (was.st_dev, was.st_ino):
            return None
    fd = open_regular_file(str(path))
    return os.fdopen(fd, "rb") if fd is not None else None


def _write_lines(
    name: str,
    new: bytes,
    partial: dict[str, bytes],
    write: Callable[[str], None],
    prefixed: bool,
) -> None:
    *complete, partial[name] = (partial[name] + new).split(b"\n")
    for line in complete:
        write(_line(name, line.decode("utf-8", errors="replace"), prefixed))


def _line(name: str, text: str, prefixed: bool) -> str:
    return f"{shown(name)} | {shown(text)}" if prefixed else shown(text)


def _not_a_regular_file(path: Path) -> bool:
    """Whether ``path`` is there but is no regular file of its own."""
    try:
        return not stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def show_logs(
    partition: Path,
    program: str | None,
    lines: int,
    follow_them: bool,
    write: Callable[[str], None],
) -> int:
    if lines < 0:
        raise DeployError(f"-n {lines}: expected a number of lines, 0 or more")
    logs = chosen_logs(partition, program)
    if not logs:
        write(f"{shown(partition)}: no program has written a log yet")
        return 0
    offsets: dict[str, int] = {}
    for name, path in logs.items():
        if os.path.lexists(path) and _not_a_regular_file(path):
            write(f"{shown(name)}: {shown(path)} is not a regular file (a link, a FIFO): not read")
            continue
        text, offsets[name] = tail(path, lines)
        for line in text:
            write(_line(name, line, len(logs) > 1))
    if follow_them:
        follow(logs, offsets, write)
    return 0
