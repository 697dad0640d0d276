"""``slapkit logs``: a program's output, without knowing where supervisord
keeps it (``.slappart0_NAME.log`` in the partition, as under slapgrid)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from slapkit.core.files import open_regular_file
from slapkit.core.partition_state import STATE_DIR, without_digest
from slapkit.runner.display import shown
from slapkit.runner.partition import DeployError
from slapkit.runner.supervisor import PARTITION_ID, WATCHDOG_MARK

BUILDOUT = "buildout"
_PREFIX = f".{PARTITION_ID}_"


def program_logs(partition: Path) -> dict[str, Path]:
    """Each program's log, by the program's name (its file's in etc/service
    or etc/run), and buildout's own as ``buildout``."""
    logs = {BUILDOUT: partition / STATE_DIR / "buildout.log"}
    try:
        names = sorted(os.listdir(partition))
    except OSError:
        names = []
    for name in names:
        if name.startswith(_PREFIX) and name.endswith(".log"):
            logs[name[len(_PREFIX) : -len(".log")]] = partition / name
    return logs


def chosen_logs(partition: Path, program: str | None) -> dict[str, Path]:
    """The logs ``program`` names (all when None): its exact name, or the
    name without a hashed wrapper's digest, with or without ``slappart0_``."""
    logs = program_logs(partition)
    if program is None:
        return {name: path for name, path in logs.items() if name != BUILDOUT}
    wanted = program.removeprefix(f"{PARTITION_ID}_").removesuffix(WATCHDOG_MARK)
    found = {
        name: path
        for name, path in logs.items()
        if name == wanted or (name != BUILDOUT and without_digest(name) == wanted)
    }
    if not found:
        known = ", ".join(sorted(logs)) or "none"
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
    that shrank was rotated: it is read again from its start."""
    partial = {name: b"" for name in logs}
    while True:
        for name, path in logs.items():
            fd = open_regular_file(str(path))
            if fd is None:
                continue
            with os.fdopen(fd, "rb") as stream:
                if os.fstat(stream.fileno()).st_size < offsets.get(name, 0):
                    offsets[name], partial[name] = 0, b""
                stream.seek(offsets.get(name, 0))
                new = stream.read()
            offsets[name] = offsets.get(name, 0) + len(new)
            *complete, partial[name] = (partial[name] + new).split(b"\n")
            for line in complete:
                write(_line(name, line.decode("utf-8", errors="replace"), len(logs) > 1))
        time.sleep(poll)


def _line(name: str, text: str, prefixed: bool) -> str:
    return f"{shown(name)} | {shown(text)}" if prefixed else shown(text)


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
        text, offsets[name] = tail(path, lines)
        for line in text:
            write(_line(name, line, len(logs) > 1))
    if follow_them:
        follow(logs, offsets, write)
    return 0
