"""slapkit's own files in a partition: ``${buildout:directory}/.slapkit``."""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import stat
import tempfile
from typing import Any

from slapkit.core.files import read_regular_file, remove_stale_temporaries, write_if_changed
from slapkit.core.run_state import current

STATE_DIR = ".slapkit"
SALT_FILE = "salt"
STATE_MODE = 0o700
SECRET_MODE = 0o600
# A file name that supervisord (and slapgrid's configuration of it) takes as a
# program name as it is: no blank, no control character, and none of the
# characters its configuration gives a meaning (``%`` interpolation, ``:``
# group separator, ``;``/``#`` comments, ``[``/``]`` sections, ``=``).
_PROGRAM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,199}\Z")


# A hashed wrapper's name: the wrapper-path's, "-", 16 hex digits.
DIGEST_LENGTH = 16
DIGEST = rf"-[0-9a-f]{{{DIGEST_LENGTH}}}"
_DIGEST_SUFFIX = re.compile(DIGEST + r"\Z")


def without_digest(name: str) -> str:
    """``web`` for ``web-0123456789abcdef``; other names as they are."""
    return _DIGEST_SUFFIX.sub("", name)


def has_digest(name: str) -> bool:
    return bool(_DIGEST_SUFFIX.search(name))


def is_program_name(name: str) -> bool:
    """Whether a file of ``etc/service`` or ``etc/run`` so named can be a program."""
    return bool(_PROGRAM_NAME.match(name))


def owned_directory(path: str) -> bool:
    """Whether ``path`` is a directory of this user's, not a symlink: a
    cache kept in anything else is not used."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()


def state_directory(buildout_directory: str) -> str:
    """``.slapkit`` of the partition, made 0700 when missing."""
    path = os.path.join(buildout_directory, STATE_DIR)
    os.makedirs(path, mode=STATE_MODE, exist_ok=True)
    return path


def cache_directory(buildout_directory: str, name: str | None = None) -> str | None:
    """``.slapkit`` (or ``.slapkit/NAME``), made 0700 when missing; None when
    it cannot be made or is not this user's own directory (a cache is then
    not kept, never an error)."""
    try:
        path = state_directory(buildout_directory)
        if name is not None:
            path = os.path.join(path, name)
            try:
                os.mkdir(path, STATE_MODE)
            except FileExistsError:
                pass
    except OSError:
        return None
    return path if owned_directory(path) else None


def read_kept_json(path: str) -> dict[str, Any]:
    """The JSON object a cache keeps at ``path``: empty when its directory is
    not this user's own, or the file is missing, not a regular file, or not
    a JSON object."""
    if not owned_directory(os.path.dirname(path)):
        return {}
    data = read_regular_file(path)
    try:
        loaded = json.loads(data) if data is not None else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def keep_json(path: str, value: dict[str, Any]) -> None:
    """Keep ``value`` at ``path`` (in a directory ``cache_directory`` gave),
    0600, written only when it changed. A cache that cannot be written is
    left alone: the next run does the work again, nothing else."""
    # ASCII: a value may hold lone surrogates (a JSON "\udc80" parameter, a
    # non-UTF-8 file name), which UTF-8 cannot encode.
    text = json.dumps(value, sort_keys=True, indent=1) + "\n"
    try:
        write_if_changed(path, text.encode("utf-8"), SECRET_MODE)
    except OSError:
        pass


def partition_salt(buildout_directory: str) -> bytes:
    """A random secret of this partition (``.slapkit/salt``, 0600), made once.

    Made without a lock and without a window: the new salt is written to a
    temporary file and hard-linked into place, which fails if another run
    linked its own first; then that one is read.
    """
    known = current().salts.get(buildout_directory)
    if known is not None:
        return known
    salt = current().salts[buildout_directory] = _make_or_read_salt(buildout_directory)
    return salt


def _make_or_read_salt(buildout_directory: str) -> bytes:
    path = os.path.join(state_directory(buildout_directory), SALT_FILE)
    try:
        return _read_salt(path)
    except FileNotFoundError:
        pass
    remove_stale_temporaries(path)  # a run killed while it made one
    fd, temporary = tempfile.mkstemp(
        prefix="." + SALT_FILE + ".", suffix=".tmp", dir=os.path.dirname(path)
    )
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(secrets.token_hex(32).encode("ascii"))
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
    finally:
        os.unlink(temporary)
    return _read_salt(path)


def _read_salt(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as stream:
        salt = stream.read().strip()
    if len(salt) < 32:
        raise OSError(errno.EINVAL, "the partition's salt is damaged; remove it", path)
    return salt
