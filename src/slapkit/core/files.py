"""Atomic, write-if-changed file updates.

A new content goes to a temporary file in the target's directory, is flushed
and fsync'ed, gets its mode, and is renamed over the target: a crash leaves
the old file or the new one, never a mix. An equal file is not touched.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile

_DEFAULT_FILE_MODE = 0o666


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _read_if_same_size(path: str, size: int) -> bytes | None:
    """The file's content when it is a regular file of ``size`` bytes, else None."""
    try:
        with open(path, "rb") as existing:
            info = os.fstat(existing.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size != size:
                return None
            return existing.read(size + 1)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None


def write_if_changed(path: str, content: bytes | str, mode: int | None = None) -> bool:
    """Make ``path`` hold ``content`` (and ``mode`` when given).

    Returns True when anything was changed on disk, False when the file was
    already right. Without ``mode``, an existing file keeps its mode and a new
    one gets 0666 less the umask. Raises OSError on failure, after removing
    its temporary file.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    if info is not None and _read_if_same_size(path, len(data)) == data:
        if mode is None or stat.S_IMODE(info.st_mode) == mode:
            return False
        os.chmod(path, mode)
        return True
    if mode is None:
        mode = (
            stat.S_IMODE(info.st_mode)
            if info is not None
            else _DEFAULT_FILE_MODE & ~current_umask()
        )
    replace_atomically(path, data, mode)
    return True


def replace_atomically(path: str, data: bytes, mode: int) -> None:
    """Put ``data`` at ``path`` through a fsync'ed temporary file and a rename."""
    directory = os.path.dirname(path) or "."
    # mkstemp creates the file 0600: a secret is never readable by others.
    fd, temporary = tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
            os.fchmod(stream.fileno(), mode)
        os.rename(temporary, path)
    except BaseException:
        _unlink_quietly(temporary)
        raise


def remove_file(path: str) -> bool:
    """Remove a file; True when there was one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
