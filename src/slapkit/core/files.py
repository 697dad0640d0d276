"""Atomic, write-if-changed file updates.

A new content goes to a temporary file in the target's directory, is flushed
and fsync'ed, gets its mode, and is renamed over the target: a crash leaves
the old file or the new one, never a mix. An equal file is not touched.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile

from slapkit.core.run_state import current

_DEFAULT_FILE_MODE = 0o666
# A temporary file is ``.NAME.XXXXXXXX.tmp`` (mkstemp's eight characters).
TEMPORARY_PREFIX = "."
TEMPORARY_SUFFIX = ".tmp"
_MKSTEMP_CHARACTERS = "[a-z0-9_]{8}"


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def executable_mode() -> int:
    """0777 less the umask: a new script's mode (0750 under slapgrid)."""
    return 0o777 & ~current_umask()


def default_file_mode(content: bytes) -> int:
    """As slapos.recipe.template: 0666 less the umask, or 0777 less the umask
    for a script whose interpreter exists and is executable."""
    if content.startswith(b"#!"):
        line = content[2:].split(b"\n", 1)[0].split(None, 1)
        if line and os.access(line[0], os.X_OK):
            return executable_mode()
    return 0o666 & ~current_umask()


def _open_regular(path: str) -> int | None:
    """A read-only descriptor of ``path`` when it is a regular file, else None.

    A symlink is never followed (``O_NOFOLLOW``): a link found in the
    partition is not ours to write or chmod through; it is replaced.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.EISDIR, errno.ENOTDIR):
            return None
        raise
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return fd
    os.close(fd)
    return None


def open_regular_file(path: str) -> int | None:
    """A read-only descriptor of ``path`` if it is a regular file (never
    through a symlink, never a FIFO opened for reading), else None."""
    return _open_regular(path)


def read_regular_file(path: str, max_bytes: int | None = None) -> bytes | None:
    """The content of ``path`` if it is a regular file (never through a
    symlink), and not bigger than ``max_bytes`` when given (a file planted
    to fill the memory is not read)."""
    fd = _open_regular(path)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as stream:
        if max_bytes is None:
            return stream.read()
        data = stream.read(max_bytes + 1)
        return None if len(data) > max_bytes else data


def write_if_changed(path: str, content: bytes | str, mode: int | None = None) -> bool:
    """Make ``path`` hold ``content`` (and ``mode`` when given).

    Returns True when anything was changed on disk, False when the file was
    already right. Without ``mode``, an existing file keeps its mode and a new
    one gets 0666 less the umask. A symlink at ``path`` is replaced by the
    file, never written or chmod'ed through. Raises OSError on failure,
    after removing its temporary file.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    fd = _open_regular(path) if info is not None and stat.S_ISREG(info.st_mode) else None
    if fd is not None:
        with os.fdopen(fd, "rb") as existing:
            found = os.fstat(existing.fileno())
            if found.st_size == len(data) and existing.read(len(data) + 1) == data:
                if mode is None or stat.S_IMODE(found.st_mode) == mode:
                    return False
                os.fchmod(existing.fileno(), mode)
                return True
            if mode is None:
                mode = stat.S_IMODE(found.st_mode)
    if mode is None:
        mode = _DEFAULT_FILE_MODE & ~current_umask()
    replace_atomically(path, data, mode)
    return True


def replace_atomically(path: str, data: bytes, mode: int) -> None:
    """Put ``data`` at ``path`` through a fsync'ed temporary file and a rename."""
    directory = os.path.dirname(path) or "."
    # mkstemp creates the file 0600: a secret is never readable by others.
    fd, temporary = tempfile.mkstemp(
        prefix=TEMPORARY_PREFIX + os.path.basename(path) + ".",
        suffix=TEMPORARY_SUFFIX,
        dir=directory,
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
    # A rename reported done is lost by a power cut until the directory is
    # on disk too.
    fsync_directory(directory)


def replace_symlink(target: str, path: str) -> None:
    """Make ``path`` a symlink to ``target``: a new link under a temporary
    name, renamed over ``path`` (never a moment without one). Raises OSError."""
    directory = os.path.dirname(path) or "."
    for _ in range(16):
        temporary = os.path.join(
            directory,
            f"{TEMPORARY_PREFIX}{os.path.basename(path)}.{os.urandom(4).hex()}{TEMPORARY_SUFFIX}",
        )
        try:
            os.symlink(target, temporary)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 16 random names taken
        raise FileExistsError(errno.EEXIST, "no free temporary name", path)
    try:
        os.rename(temporary, path)
    except BaseException:
        _unlink_quietly(temporary)
        raise
    fsync_directory(directory)


def fsync_directory(directory: str) -> None:
    """Make a rename or an unlink in ``directory`` durable (where the file
    system can)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename stands
    finally:
        os.close(fd)


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` looks like a temporary file of ``replace_atomically``."""
    return name.startswith(TEMPORARY_PREFIX) and name.endswith(TEMPORARY_SUFFIX)


def remove_stale_temporaries(path: str, name_pattern: str | None = None) -> list[str]:
    """Remove the temporaries of ``path`` that a killed run left behind.

    A complete, executable ``.web.abcd1234.tmp`` left in ``etc/service``
    would be started by slapgrid as a second copy of the service.
    ``name_pattern`` (a regular expression) widens the target names, e.g.
    to every digest of a hashed wrapper. The directory is listed once per
    run; returns the paths removed.
    """
    directory, base = os.path.split(os.path.abspath(path))
    listings = current().temporaries
    names = listings.get(directory)
    if names is None:
        try:
            listed = os.listdir(directory)
        except OSError:
            listed = []
        names = listings[directory] = {n for n in listed if is_temporary_name(n)}
    if not names:
        return []
    pattern = re.compile(
        re.escape(TEMPORARY_PREFIX)
        + (name_pattern or re.escape(base))
        + r"\."
        + _MKSTEMP_CHARACTERS
        + re.escape(TEMPORARY_SUFFIX)
        + r"\Z"
    )
    removed = []
    for name in sorted(names):
        if pattern.match(name):
            names.discard(name)
            if remove_file(os.path.join(directory, name)):
                removed.append(os.path.join(directory, name))
    return removed


def remove_file(path: str) -> bool:
    """Remove a file (a link as a link); True when there was one. A
    directory found in its place is left as it is (not a file a part wrote:
    never removed, and no reason to fail every later run)."""
    try:
        os.unlink(path)
    except (FileNotFoundError, IsADirectoryError):
        return False
    except PermissionError:
        if os.path.isdir(path) and not os.path.islink(path):
            return False  # unlink(2) of a directory: EPERM on some systems
        raise
    return True


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
