"""``--output DIR``: checked before any profile is read, made (as
``mkdir -p`` makes it, parents included) only once every profile has
migrated in memory, so a run that stops on a bad argument leaves no new
directory behind.

A DIR that exists must be a directory (or a symbolic link to one); a
regular file, a FIFO or a link leading nowhere, as DIR or on the way to it,
is refused in one line naming it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from slapkit.migration.editing import kind_of


def _kind(mode: int) -> str:
    return "a regular file" if stat.S_ISREG(mode) else kind_of(mode)


def output_problem(directory: Path) -> str | None:
    """Why ``directory`` cannot be used or made as the output, or None.
    Makes nothing."""
    for step in [*reversed(directory.parents), directory]:
        try:
            info = os.stat(step)
        except FileNotFoundError:
            if os.path.islink(step):
                return f"{step} is a symbolic link to {os.readlink(step)}, which does not exist"
            return None  # this step and the rest are to be made
        except OSError as exc:
            return f"{step}: {exc.strerror or exc}"
        if stat.S_ISDIR(info.st_mode):
            continue
        if step == directory:
            return f"exists and is not a directory ({_kind(info.st_mode)})"
        return f"{step} is {_kind(info.st_mode)}, not a directory"
    return None


def make_output(directory: Path) -> None:
    """Make ``directory`` and its missing parents (0777 less the umask, as
    ``mkdir -p``); nothing when it is there. Raises OSError."""
    os.makedirs(directory, exist_ok=True)
