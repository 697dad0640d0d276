"""Directories whose name is a near miss of one slapgrid watches.

slapgrid runs the executables of ``etc/service`` and ``etc/run``, and the
promises of ``etc/promise`` and ``etc/plugin``: a profile that writes its
wrappers into ``etc/services`` deploys without an error, and nothing runs.
"""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path

WATCHED = ("service", "run", "promise", "plugin")


def near_misses(partition: Path) -> list[str]:
    """A note for each directory of ``etc`` named like a watched one (not
    exactly) that holds executables."""
    etc = partition / "etc"
    try:
        names = sorted(os.listdir(etc))
    except OSError:
        return []
    notes = []
    for name in names:
        if name in WATCHED:
            continue
        close = difflib.get_close_matches(name.lower(), WATCHED, n=1, cutoff=0.7)
        if not close:
            continue
        count = _executables(etc / name)
        if count:
            notes.append(
                f"etc/{name} holds {count} executable(s), but slapgrid and slapkit only run "
                f"those of etc/{close[0]}: a typo?"
            )
    return notes


def _executables(directory: Path) -> int:
    """How many executable regular files ``directory`` holds (a link found
    there is not followed; a directory that is a link is not looked into)."""
    try:
        if not stat.S_ISDIR(os.lstat(directory).st_mode):
            return 0
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    count = 0
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o111:
            count += 1
    return count
