"""zc.buildout's signature of a pip-installed recipe, kept between runs (part
of the extension).

zc.buildout signs a develop distribution -- and a distribution pip installed
into site-packages counts as one -- with an md5 of every file under its
location: all of site-packages, read on every run (60-260 ms in a
virtualenv with a warm cache, seconds with a cold one). Here the digest is
kept in ``.slapkit/dir-hashes.json`` beside a fingerprint of the same files
(name, size, mtime, ctime, inode: a walk that reads no content) and
zc.buildout computes it again only when the fingerprint changed. The value
is zc.buildout's own, so turning the extension on or off reinstalls
nothing. Any write to a file changes its ctime, which no tool can set back.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from slapkit.core.partition_state import STATE_DIR, cache_directory, keep_json, read_kept_json

STORE = "dir-hashes.json"
# The buildout directory whose store the next digests go to (set by the
# extension before zc.buildout signs the parts).
store_directory: str | None = None


def fingerprint(directory: str) -> str:
    """What zc.buildout's digest of ``directory`` reads, without reading it:
    the same directories and files, by name, size, times and inode."""
    import zc.buildout.buildout

    ignored = zc.buildout.buildout.ignore_directories
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(name for name in dirnames if name not in ignored)
        digest.update(f"D{dirpath}\0{chr(0).join(dirnames)}\0".encode(errors="surrogateescape"))
        for name in sorted(filenames):
            if name.endswith(("pyc", "pyo")):
                continue
            try:
                info = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue  # zc.buildout leaves out what does not exist (a dangling link)
            stamp = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
            digest.update(f"F{name}\0{stamp}\0".encode(errors="surrogateescape"))
    return digest.hexdigest()


def _store_path() -> str | None:
    if store_directory is None:
        return None
    return os.path.join(store_directory, STATE_DIR, STORE)


# Digests to keep, by store path: written at the end of a successful run.
_pending: dict[str, dict[str, list[str]]] = {}


def flush() -> None:
    """Keep the digests this run computed (the extension calls it when a run
    ends well: a failing run leaves nothing new on disk)."""
    while _pending:
        path, entries = _pending.popitem()
        directory = os.path.dirname(os.path.dirname(path))
        if cache_directory(directory) is not None:
            keep_json(directory, path, {**read_kept_json(directory, path), **entries})


def keeping(original: Any) -> Any:
    """zc.buildout's ``_dir_hash``, its results kept between runs."""
    import zc.buildout.buildout

    def dir_hash(directory: str) -> str:
        known: dict[str, str] = zc.buildout.buildout._dir_hashes
        path = _store_path()
        if directory in known or path is None:
            return str(original(directory))
        try:
            before = fingerprint(directory)
        except OSError:
            return str(original(directory))
        assert store_directory is not None
        entry = read_kept_json(store_directory, path).get(directory)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == before:
            if isinstance(entry[1], str):
                known[directory] = entry[1]
                return entry[1]
        digest = str(original(directory))
        # Kept only if no file changed while zc.buildout read them.
        if fingerprint(directory) == before:
            _pending.setdefault(path, {})[directory] = [before, digest]
        return digest

    dir_hash.__wrapped__ = original  # type: ignore[attr-defined]
    return dir_hash
