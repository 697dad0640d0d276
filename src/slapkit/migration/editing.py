"""Reading a profile, and writing it back in place as a careful editor does.

Reading: only a regular file is read. The argument is lstat'ed first, so a
FIFO (whose opening waits for a writer), a device (whose opening may act), a
socket or a directory is refused before it is opened; then it is opened with
``O_NONBLOCK`` and ``O_NOFOLLOW`` and fstat'ed, so a file swapped in between
is refused too.

A symbolic link given to migrate in place is refused: writing through it
would change a file the command line does not name, replacing it would turn
the link into a file. With ``follow_symlinks`` the file it resolves to is
migrated in place, and the link stays as it is. To read (``--check``,
``--output``), a link is followed.

Writing back keeps everything but the content: owner, group, mode, extended
attributes (ACLs, security labels), inode and links.

* A file with one link is replaced atomically: the new content goes to a
  temporary file beside it, which gets the original's owner, group, mode
  and extended attributes, is fsync'ed, and is renamed over the original
  once it is checked that this was not changed since it was read; the
  directory is fsync'ed. A crash leaves the old profile or the new one.
* A file with several hard links is written through its inode, so that
  every name sees the migrated profile. (Replacing it would split the
  links: the name given migrated, the others silently still the old
  profile. Refusing would leave such a profile to be migrated by hand.)
  No system call rewrites an inode atomically, so the original content is
  first saved beside it (``.NAME.XXXXXXXX.orig``, mode 0600, fsync'ed),
  then the inode is written, truncated and fsync'ed, then the copy is
  removed. A write that fails is undone from memory and reported; a crash
  in between leaves that copy to restore the profile from.
* The same write through the inode is used when the replacement cannot be
  given the original's owner, group, mode or extended attributes (a user
  allowed to write the file but not to give it its owner): the profile is
  never handed to someone else.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from slapkit.core.files import fsync_directory

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# What keeping an attribute can fail with when the user may not set it.
_NOT_ALLOWED = {errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP}


class ProfileError(OSError):
    """A profile that is refused: ``strerror`` says why, in one line."""

    def __init__(self, message: str, code: int = errno.EINVAL) -> None:
        super().__init__(code, message)


@dataclass(frozen=True)
class ReadProfile:
    argument: Path  # as given
    path: str  # the file read: the argument, or what a followed link resolves to
    data: bytes
    info: os.stat_result  # the file's, as it was read


def kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return f"of type {stat.S_IFMT(mode):o}"


def _require_regular(info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        code = errno.EISDIR if stat.S_ISDIR(info.st_mode) else errno.EINVAL
        raise ProfileError(f"not a regular file ({kind_of(info.st_mode)})", code)


def read_profile(argument: Path, in_place: bool, follow_symlinks: bool = False) -> ReadProfile:
    """The profile ``argument`` names; raises OSError (a ProfileError for a
    refusal) without opening anything but a regular file."""
    path = os.fspath(argument)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        if in_place and not follow_symlinks:
            raise ProfileError(
                f"a symbolic link (to {os.readlink(path)}), not migrated in place; "
                "--follow-symlinks migrates the file it points to",
                errno.ELOOP,
            )
        path = os.path.realpath(path)
        info = os.stat(path)  # a loop: ELOOP, "Too many levels of symbolic links"
    _require_regular(info)
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        _require_regular(info)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return ReadProfile(argument, path, b"".join(chunks), info)


def identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _changed() -> ProfileError:
    return ProfileError("changed while being migrated; not written", errno.EAGAIN)


def write_in_place(profile: ReadProfile, data: bytes) -> None:
    """Make the file ``profile`` was read from hold ``data``, keeping all
    but its content (see the module's docstring). Raises OSError."""
    if profile.info.st_nlink > 1 or not _replace(profile, data):
        _write_through_inode(profile, data)


def _replace(profile: ReadProfile, data: bytes) -> bool:
    """Replace the file atomically; False (nothing changed) when the
    replacement cannot be given the original's attributes."""
    directory, name = os.path.split(profile.path)
    directory = directory or "."
    original = profile.info
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    renamed = False
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            try:
                os.fchown(fd, original.st_uid, original.st_gid)
                # After chown, which clears the set-user-ID and set-group-ID bits.
                os.fchmod(fd, stat.S_IMODE(original.st_mode))
                _copy_extended_attributes(profile.path, fd)
            except OSError as exc:
                if exc.errno in _NOT_ALLOWED:
                    return False
                raise
            made = os.fstat(fd)
            if (made.st_uid, made.st_gid, made.st_mode) != (
                original.st_uid,
                original.st_gid,
                original.st_mode,
            ):
                return False  # e.g. a set-group-ID bit the user may not set
            os.fsync(fd)
        if identity(os.lstat(profile.path)) != identity(original):
            raise _changed()
        os.rename(temporary, profile.path)
        renamed = True
    finally:
        if not renamed:
            _unlink_quietly(temporary)
    fsync_directory(directory)
    return True


def _copy_extended_attributes(source: str, fd: int) -> None:
    if not hasattr(os, "listxattr"):  # pragma: no cover - not Linux
        return
    try:
        names = os.listxattr(source, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise
    for attribute in names:
        os.setxattr(fd, attribute, os.getxattr(source, attribute, follow_symlinks=False))


def _write_through_inode(profile: ReadProfile, data: bytes) -> None:
    fd = os.open(profile.path, _WRITE_FLAGS)
    try:
        if identity(os.fstat(fd)) != identity(profile.info):
            raise _changed()
        try:
            saved = _save_copy(profile)
        except OSError as exc:
            raise ProfileError(
                f"the original could not be saved beside it ({exc.strerror or exc}); not written",
                exc.errno or errno.EIO,
            ) from None
        try:
            _write_all(fd, data)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            try:
                _write_all(fd, profile.data)
            except OSError:
                raise ProfileError(
                    f"not written ({reason}), nor restored: the original is in {saved}",
                    exc.errno or errno.EIO,
                ) from None
            _unlink_quietly(saved)
            raise ProfileError(
                f"not written ({reason}); left as it was", exc.errno or errno.EIO
            ) from None
        _unlink_quietly(saved)
    finally:
        os.close(fd)


def _save_copy(profile: ReadProfile) -> str:
    """The original content, on disk beside the profile (0600, mkstemp's)."""
    directory, name = os.path.split(profile.path)
    fd, saved = tempfile.mkstemp(prefix=f".{name}.", suffix=".orig", dir=directory or ".")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(profile.data)
            stream.flush()
            os.fsync(fd)
    except BaseException:
        _unlink_quietly(saved)
        raise
    fsync_directory(directory or ".")
    return saved


def _write_all(fd: int, data: bytes) -> None:
    view, written = memoryview(data), 0
    while written < len(data):
        written += os.pwrite(fd, view[written:], written)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
