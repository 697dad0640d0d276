"""slapkit's own files in a partition: ``${buildout:directory}/.slapkit``."""

from __future__ import annotations

import errno
import hashlib
import hmac
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
    try:
        os.mkdir(path, STATE_MODE)
    except FileExistsError:
        pass
    if not owned_directory(path):  # a symlink, a file, another user's directory
        raise OSError(errno.EPERM, "not a directory of this user's own: remove it", path)
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


# A kept file starts with this tag and the hex HMAC-SHA256 of the rest, keyed
# with the partition's salt and bound to the file's name.
_KEPT_TAG = b"slapkit-kept-1 "
_MAC_LENGTH = 64


# No file slapkit keeps comes near it: a bigger one was not written by slapkit.
KEPT_MAX_BYTES = 64 * 1024 * 1024


def _mac(key: bytes, path: str, data: bytes) -> bytes:
    name = os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path)
    message = name.encode("utf-8", "surrogateescape") + b"\0" + data
    return hmac.new(key, message, hashlib.sha256).hexdigest().encode("ascii")


def read_kept(buildout_directory: str, path: str) -> bytes | None:
    """What slapkit kept at ``path`` (a file of ``.slapkit`` of
    ``buildout_directory``), or None when it is missing, not a regular file
    in this user's own directory, or not provably written by slapkit for this
    partition: a file planted or edited there is never used."""
    if not owned_directory(os.path.dirname(path)):
        return None
    key = existing_salt(buildout_directory)
    data = read_regular_file(path, KEPT_MAX_BYTES) if key is not None else None
    if key is None or data is None or not data.startswith(_KEPT_TAG):
        return None
    start = len(_KEPT_TAG)
    mac, newline, body = (
        data[start : start + _MAC_LENGTH],
        data[start + _MAC_LENGTH : start + _MAC_LENGTH + 1],
        data[start + _MAC_LENGTH + 1 :],
    )
    if newline != b"\n" or not hmac.compare_digest(mac, _mac(key, path, body)):
        return None
    return body


def keep(buildout_directory: str, path: str, data: bytes) -> None:
    """Keep ``data`` at ``path`` (in a directory ``cache_directory`` gave),
    0600, authenticated, written only when it changed. A cache that cannot be
    written is left alone: the next run does the work again, nothing else."""
    try:
        write_if_changed(path, authenticated(buildout_directory, path, data), SECRET_MODE)
    except OSError:
        pass


def authenticated(buildout_directory: str, path: str, data: bytes) -> bytes:
    """What ``keep`` writes at ``path`` for ``data`` (``read_kept`` gives
    ``data`` back); raises OSError when the salt cannot be kept."""
    key = partition_salt(buildout_directory)
    return _KEPT_TAG + _mac(key, path, data) + b"\n" + data


def read_kept_json(buildout_directory: str, path: str) -> dict[str, Any]:
    """The JSON object kept at ``path`` (``read_kept``), or an empty one."""
    data = read_kept(buildout_directory, path)
    try:
        loaded = json.loads(data) if data is not None else {}
    except (ValueError, RecursionError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def keep_json(buildout_directory: str, path: str, value: dict[str, Any]) -> None:
    """Keep ``value`` at ``path`` (``keep``)."""
    # ASCII: a value may hold lone surrogates (a JSON "\udc80" parameter, a
    # non-UTF-8 file name), which UTF-8 cannot encode.
    text = json.dumps(value, sort_keys=True, indent=1) + "\n"
    keep(buildout_directory, path, text.encode("ascii"))


def existing_salt(buildout_directory: str) -> bytes | None:
    """The partition's salt if it was made, else None (reading makes nothing)."""
    known = current().salts.get(buildout_directory)
    if known is not None:
        return known
    try:
        salt = _read_salt(os.path.join(buildout_directory, STATE_DIR, SALT_FILE))
    except OSError:
        return None
    current().salts[buildout_directory] = salt
    return salt


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
    if not owned_directory(os.path.dirname(path)):
        raise OSError(
            errno.EPERM, "not this user's own directory: remove it", os.path.dirname(path)
        )
    if not os.path.lexists(path):
        raise FileNotFoundError(errno.ENOENT, "no salt yet", path)
    data = read_regular_file(path, 4096)  # no symlink, no FIFO, nothing huge
    salt = data.strip() if data is not None else b""
    if len(salt) < 32:
        raise OSError(errno.EINVAL, "the partition's salt is damaged; remove it", path)
    return salt
